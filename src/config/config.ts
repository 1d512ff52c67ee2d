import fs from "node:fs";
import path from "node:path";
import { CHART_INDUSTRIES, CHART_REGIONS, PERIODS, type Period } from "../domain/chart-model.js";
import { CHART_SOURCES, type ChartSourceName } from "../domain/chart-sources.js";

/** Everything tagpulse reads from its environment, validated once and frozen. */
export interface Config {
  /** `postgres://…` for PostgreSQL, otherwise the path of the SQLite database file. */
  readonly databaseUrl: string;
  readonly logLevel: string;
  /** Where the HTTP server listens. */
  readonly port: number;
  readonly host: string;
  /** Enables the admin API under /admin/v1, authenticated by this token; absent, so is the API. */
  readonly adminToken: string | undefined;
  /** `redis://…`: rate limits are counted there, shared by every server process. */
  readonly redisUrl: string | undefined;
  /** Requests per minute of an API key without a limit of its own. */
  readonly rateLimitPerMinute: number;
  /** Failed authentications per minute from one address before it is refused for the rest of that minute. */
  readonly authFailuresPerMinute: number;
  /** What feeds the public charts, first choice first: a source without the chart asked for passes to the next. */
  readonly chartSources: readonly ChartSourceName[];
  /** Collect from Creative Center this often inside the server (ms), or never. */
  readonly collectEveryMs: number | undefined;
  readonly creativeCenter: CreativeCenterConfig;
}

/** The Creative Center connector: which client, how politely, and which charts. */
export interface CreativeCenterConfig {
  /** 2: KnowledgeAPI (anonymous preview, or logged in with a session); 1: creative_radar_api (a captured header set). */
  readonly generation: 1 | 2;
  readonly baseUrl: string;
  /** Generation 2, logged in. */
  readonly session: { readonly sessionId: string; readonly csrfToken: string } | undefined;
  /** Generation 1: the captured header set, read from CC_GEN1_HEADERS_FILE. */
  readonly gen1Headers: Readonly<Record<string, string>> | undefined;
  readonly requestsPerSecond: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly refusalsBeforeStop: number;
  readonly pauseAfterRefusalsMs: number;
  readonly regions: readonly string[];
  readonly periods: readonly Period[];
  readonly industries: readonly string[];
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Reads the configuration from `env`, with command-line overrides taking precedence.
 * Reports every problem at once instead of stopping at the first.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: { databaseUrl?: string | undefined } = {}): Config {
  const problems: string[] = [];
  const databaseUrl = overrides.databaseUrl ?? env.DATABASE_URL ?? path.join("data", "tagpulse.db");
  if (databaseUrl.trim() === "") problems.push("DATABASE_URL is empty");
  if (/^[a-z]+:\/\//i.test(databaseUrl) && !isPostgresUrl(databaseUrl)) {
    problems.push(`DATABASE_URL must be a postgres:// URL or a SQLite file path, got ${redactUrl(databaseUrl)}`);
  }
  const logLevel = env.LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
  const portText = env.PORT ?? "8080";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65_535)
    problems.push(`PORT must be a port number from 1 to 65535, got ${JSON.stringify(portText)}`);
  const host = env.HOST ?? "0.0.0.0";
  if (host.trim() === "") problems.push("HOST is empty");
  const adminToken = env.ADMIN_TOKEN === undefined || env.ADMIN_TOKEN === "" ? undefined : env.ADMIN_TOKEN;
  if (adminToken !== undefined && !/^[\x21-\x7e]{16,512}$/.test(adminToken))
    problems.push("ADMIN_TOKEN must be 16 to 512 printable characters without spaces");
  const redisUrl = env.REDIS_URL === undefined || env.REDIS_URL === "" ? undefined : env.REDIS_URL;
  if (redisUrl !== undefined && !/^rediss?:\/\//i.test(redisUrl))
    problems.push(`REDIS_URL must be a redis:// or rediss:// URL, got ${redactUrl(redisUrl)}`);
  const perMinute = (name: string, fallback: number) => {
    const text = env[name] ?? String(fallback);
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 100_000_000) {
      problems.push(`${name} must be an integer from 1 to 100000000, got ${JSON.stringify(text)}`);
    }
    return Number(text);
  };
  const rateLimitPerMinute = perMinute("RATE_LIMIT_PER_MINUTE", 600);
  const authFailuresPerMinute = perMinute("AUTH_FAILURES_PER_MINUTE", 20);
  const chartSources = list(env, "CHART_SOURCES", CHART_SOURCES.join(","), CHART_SOURCES, problems) as ChartSourceName[];
  const collectEvery = env.COLLECT_EVERY === undefined || env.COLLECT_EVERY === "" ? undefined : parseDuration(env.COLLECT_EVERY);
  if (collectEvery === null)
    problems.push(`COLLECT_EVERY must be a duration up to 24d, such as 24h, 90m or 1d, got ${JSON.stringify(env.COLLECT_EVERY)}`);
  const creativeCenter = loadCreativeCenter(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    databaseUrl,
    logLevel,
    port,
    host,
    adminToken,
    redisUrl,
    rateLimitPerMinute,
    authFailuresPerMinute,
    chartSources,
    collectEveryMs: collectEvery ?? undefined,
    creativeCenter,
  });
}

function loadCreativeCenter(env: NodeJS.ProcessEnv, problems: string[]): CreativeCenterConfig {
  const generationText = env.CC_GENERATION ?? "2";
  if (generationText !== "1" && generationText !== "2")
    problems.push(`CC_GENERATION must be 1 or 2, got ${JSON.stringify(generationText)}`);
  const generation = generationText === "1" ? 1 : 2;
  const baseUrl = env.CC_BASE_URL ?? "https://ads.tiktok.com";
  if (!/^https?:\/\/[^/\s]+/i.test(baseUrl)) problems.push(`CC_BASE_URL must be an http(s):// URL, got ${JSON.stringify(baseUrl)}`);
  const sessionId = env.CC_SESSION_ID || undefined;
  const csrfToken = env.CC_CSRF_TOKEN || undefined;
  if ((sessionId === undefined) !== (csrfToken === undefined))
    problems.push("CC_SESSION_ID and CC_CSRF_TOKEN go together: set both or neither");
  let gen1Headers: Record<string, string> | undefined;
  const headersFile = env.CC_GEN1_HEADERS_FILE || undefined;
  if (headersFile !== undefined) {
    try {
      const parsed = JSON.parse(fs.readFileSync(headersFile, "utf8")) as unknown;
      if (
        typeof parsed !== "object" ||
        parsed === null ||
        Array.isArray(parsed) ||
        !Object.values(parsed).every((v) => typeof v === "string")
      ) {
        problems.push(`CC_GEN1_HEADERS_FILE ${headersFile} must hold a JSON object of header names to string values`);
      } else {
        gen1Headers = Object.fromEntries(Object.entries(parsed as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
      }
    } catch (error) {
      problems.push(
        `CC_GEN1_HEADERS_FILE ${headersFile} cannot be read as JSON: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  if (generation === 1 && headersFile === undefined) {
    problems.push("CC_GENERATION=1 needs CC_GEN1_HEADERS_FILE: the header set captured from a logged-in browser session");
  }
  const number = (name: string, fallback: number, min: number, max: number, integer = true) => {
    const text = env[name] ?? String(fallback);
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      problems.push(`${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(text)}`);
    }
    return value;
  };
  const pause = parseDuration(env.CC_PAUSE_AFTER_REFUSALS ?? "6h");
  if (pause === null)
    problems.push(`CC_PAUSE_AFTER_REFUSALS must be a duration up to 24d, such as 6h, got ${JSON.stringify(env.CC_PAUSE_AFTER_REFUSALS)}`);
  return {
    generation,
    baseUrl,
    session: sessionId !== undefined && csrfToken !== undefined ? { sessionId, csrfToken } : undefined,
    gen1Headers,
    requestsPerSecond: number("CC_REQUESTS_PER_SECOND", 1, 0.001, 1000, false),
    timeoutMs: number("CC_TIMEOUT_MS", 15_000, 100, 600_000),
    retries: number("CC_RETRIES", 3, 0, 20),
    refusalsBeforeStop: number("CC_REFUSALS_BEFORE_STOP", 5, 1, 1000),
    pauseAfterRefusalsMs: pause ?? 0,
    regions: list(env, "CC_REGIONS", CHART_REGIONS.join(","), CHART_REGIONS, problems),
    periods: list(env, "CC_PERIODS", PERIODS.join(","), PERIODS.map(String), problems).map(Number) as Period[],
    industries: list(env, "CC_INDUSTRIES", CHART_INDUSTRIES.join(","), CHART_INDUSTRIES, problems),
  };
}

/** A comma-separated list of allowed values, without repeats. */
function list(env: NodeJS.ProcessEnv, name: string, fallback: string, allowed: readonly string[], problems: string[]): string[] {
  const items = (env[name] || fallback)
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  const unknown = items.filter((item) => !allowed.includes(item));
  if (unknown.length > 0) problems.push(`${name} has unknown values ${unknown.join(", ")}: allowed are ${allowed.join(", ")}`);
  if (items.length === 0) problems.push(`${name} is empty`);
  return [...new Set(items)];
}

/** The longest duration a timer can wait (about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** `90s`, `30m`, `24h` or `1d` in ms; null when unreadable, not positive or longer than 24 days. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms" | "s" | "m" | "h" | "d"];
  const ms = Math.round(Number(match[1]) * unit);
  return ms > 0 && ms <= MAX_DURATION_MS ? ms : null;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The URL without its password, safe to print. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
