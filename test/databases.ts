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
  if (kind === "SQLite") {
    const context = await createContext(loadConfig(env, { databaseUrl: ":memory:" }));
    return { ...context, dispose: () => context.close() };
  }
  const schema = `test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const context = await createContext(loadConfig(env, { databaseUrl: POSTGRES_URL! }), { databaseSchema: schema });
  return {
    ...context,
    async dispose() {
      await context.close();
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema ${schema} cascade`);
      await client.end();
    },
  };
}

/**
 * `count` contexts on one database, as separate processes would open it: a SQLite file in a temporary
 * folder, or a fresh PostgreSQL schema. Disposing of the first disposes of all of them and the database.
 */
export async function createTestContexts(kind: "SQLite" | "PostgreSQL", count: number): Promise<TestContext[]> {
  if (kind === "SQLite") {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-"));
    const file = path.join(folder, "shared.db");
    const contexts: AppContext[] = [];
    for (let i = 0; i < count; i++) contexts.push(await createContext(loadConfig({}, { databaseUrl: file })));
    const dispose = async () => {
      for (const context of contexts) await context.close();
      fs.rmSync(folder, { recursive: true, force: true });
    };
    return contexts.map((context, i) => ({ ...context, dispose: i === 0 ? dispose : async () => {} }));
  }
  const schema = `test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const contexts: AppContext[] = [];
  for (let i = 0; i < count; i++)
    contexts.push(await createContext(loadConfig({}, { databaseUrl: POSTGRES_URL! }), { databaseSchema: schema }));
  const dispose = async () => {
    for (const context of contexts) await context.close();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`drop schema ${schema} cascade`);
    await client.end();
  };
  return contexts.map((context, i) => ({ ...context, dispose: i === 0 ? dispose : async () => {} }));
}
