import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { loadConfig } from "../src/config/config.js";
import { createContext, type AppContext } from "../src/context.js";

/**
 * The databases every storage test runs on: SQLite always, PostgreSQL when TEST_POSTGRES_URL names a
 * server (CI sets it). Each test gets a database of its own: a fresh SQLite file in memory, or a fresh
 * PostgreSQL schema dropped afterwards.
 */
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL;

export const TEST_DATABASES = [
  { name: "SQLite", enabled: true },
  { name: "PostgreSQL", enabled: POSTGRES_URL !== undefined && POSTGRES_URL !== "" },
] as const;

/** A Redis server for the tests of shared rate limits, when TEST_REDIS_URL names one (CI sets it). */
export const REDIS_URL = process.env.TEST_REDIS_URL || undefined;

if (!REDIS_URL) {
  console.warn("Redis tests skipped: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) to run them");
}

if (!POSTGRES_URL) {
  console.warn("PostgreSQL tests skipped: set TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run them");
}

export interface TestContext extends AppContext {
  dispose(): Promise<void>;
}

/** `env` configures the context as the environment would (REDIS_URL, RATE_LIMIT_PER_MINUTE, ADMIN_TOKEN…). */
export async function createTestContext(kind: "SQLite" | "PostgreSQL", env: NodeJS.ProcessEnv = {}): Promise<TestContext> {
  const [context] = await createTestContexts(kind, 1, env);
  return context!;
}

/**
 * `count` contexts on one database of their own, as separate processes would open it: a SQLite
 * database in memory for one, a file in a temporary folder for more; a fresh PostgreSQL schema.
 * Disposing of the first disposes of all of them and the database.
 */
export async function createTestContexts(
  kind: "SQLite" | "PostgreSQL",
  count: number,
  env: NodeJS.ProcessEnv = {},
): Promise<TestContext[]> {
  const database = await testDatabase(kind, count > 1);
  const contexts: AppContext[] = [];
  for (let i = 0; i < count; i++) {
    contexts.push(
      await createContext(loadConfig(env, { databaseUrl: database.url }), database.schema ? { databaseSchema: database.schema } : {}),
    );
  }
  const dispose = async () => {
    for (const context of contexts) await context.close();
    await database.remove();
  };
  return contexts.map((context, i) => ({ ...context, dispose: i === 0 ? dispose : async () => {} }));
}

/** A database for a test: where it is, and how to remove it once the test's contexts are closed. */
async function testDatabase(
  kind: "SQLite" | "PostgreSQL",
  shared: boolean,
): Promise<{ url: string; schema?: string; remove(): Promise<void> }> {
  if (kind === "SQLite") {
    if (!shared) return { url: ":memory:", remove: async () => {} };
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-"));
    return { url: path.join(folder, "shared.db"), remove: async () => fs.rmSync(folder, { recursive: true, force: true }) };
  }
  const schema = `test_${randomBytes(6).toString("hex")}`;
  await administer(`create schema ${schema}`);
  return { url: POSTGRES_URL!, schema, remove: () => administer(`drop schema ${schema} cascade`) };
}

async function administer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
