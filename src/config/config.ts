import path from "node:path";

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
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ databaseUrl, logLevel, port, host, adminToken, redisUrl, rateLimitPerMinute, authFailuresPerMinute });
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The URL without its password, safe to print. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
