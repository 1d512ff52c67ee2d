import fs from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import Cursor from "pg-cursor";
import { isPostgresUrl } from "../config/config.js";
import { createMigrationProvider } from "./migrations/index.js";
import type { DatabaseSchema } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export interface Database {
  readonly db: Kysely<DatabaseSchema>;
  readonly dialect: Dialect;
  /** The SQLite connection itself, for hot paths that run synchronous prepared statements. */
  readonly sqlite?: SqliteDatabase.Database;
  /** The PostgreSQL pool itself, for bulk reads and writes that bypass the query builder. */
  readonly pool?: pg.Pool;
  /** Largest number of bound parameters one statement may carry on this database. */
  readonly maxParams: number;
  close(): Promise<void>;
}

const PG_INT8 = 20;
const PG_NUMERIC = 1700;

/**
 * Opens the database named by `url` (a `postgres://` URL or a SQLite file path, `:memory:` too)
 * and brings its schema up to date.
 */
export async function openDatabase(url: string, options: { schema?: string } = {}): Promise<Database> {
  const database = isPostgresUrl(url) ? openPostgres(url, options.schema) : openSqlite(url);
  try {
    await migrate(database, options.schema);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

function openSqlite(file: string): Database {
  if (file !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = connectSqlite(file);
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: "sqlite", sqlite, maxParams: 30_000, close: () => db.destroy() };
}

/** A connection to a SQLite file, set up as every connection of tagpulse's is. */
export function connectSqlite(file: string, options: { fileMustExist?: boolean } = {}): SqliteDatabase.Database {
  const sqlite = new SqliteDatabase(file, options);
  // Taken by a new file only. Pages twice SQLite's default: ingest inserts observations all over their
  // B-tree, and a shallower tree with half the pages took 8-13% less time to ingest 4 million of them.
  sqlite.pragma("page_size = 8192");
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("cache_size = -65536");
  sqlite.pragma("temp_store = MEMORY");
  sqlite.pragma("busy_timeout = 5000");
  return sqlite;
}

function openPostgres(url: string, schema: string | undefined): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    // Counts and views fit in a double exactly (< 2^53); ids stay text.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === PG_INT8 || oid === PG_NUMERIC
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
    // The engine and the API run short queries, many of them estimated as costly (a lookup per video):
    // compiling them to machine code took longer than running them.
    options: `-c jit=off${schema ? ` -c search_path=${schema}` : ""}`,
  });
  // An idle connection fails when the server restarts or an administrator ends it: the pool drops it
  // and connects again when next asked. Without a listener, its error event would end the process.
  pool.on("error", (error) => {
    if (!pool.ending) process.emitWarning(`PostgreSQL closed an idle connection (${error.message}); the next query opens another`);
  });
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });
  return { db, dialect: "postgres", pool, maxParams: 60_000, close: () => db.destroy() };
}

async function migrate(database: Database, schema: string | undefined): Promise<void> {
  const migrator = new Migrator({
    db: database.db,
    provider: createMigrationProvider(database.dialect),
    // Named explicitly: Kysely otherwise looks for its tables in every schema of the database.
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely looks for its tables by reading the catalog of every schema: on PostgreSQL, another client
  // dropping or creating tables or schemas meanwhile fails that read with "undefined column/table/schema". A failed run
  // applied nothing (pending migrations run in one transaction), so it is tried again.
  for (let retry = 0; retry < 3 && error !== undefined && isConcurrentCatalogChange(error); retry++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`database migration ${failed} failed: ${String(error)}`, { cause: error });
  }
}

function isConcurrentCatalogChange(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "42703" || code === "42P01" || code === "3F000";
}
