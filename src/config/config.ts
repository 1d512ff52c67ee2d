import path from "node:path";

/** Everything tagpulse reads from its environment, validated once and frozen. */
export interface Config {
  /** `postgres://…` for PostgreSQL, otherwise the path of the SQLite database file. */
  readonly databaseUrl: string;
  readonly logLevel: string;
  /** Where the HTTP server listens. */
  readonly port: number;
  readonly host: string;
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
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ databaseUrl, logLevel, port, host });
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The URL without its password, safe to print. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
