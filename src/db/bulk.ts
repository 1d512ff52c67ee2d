import type { Database, Dialect } from "./database.js";
import { copyRows, copyRowsOut } from "./pg-copy.js";
import { withLiterals } from "./pg-literals.js";

/**
 * Bulk reads and writes for the engine, which moves millions of rows: raw prepared statements on
 * SQLite, cursors, array parameters and binary COPY on PostgreSQL. SQL is written with `?` placeholders.
 */

const toPostgres = (sqlText: string) => {
  let n = 0;
  return sqlText.replace(/\?/g, () => `$${++n}`);
};

/**
 * A condition that `column` is one of `values`, for streamRows: a list of placeholders on SQLite, one
 * array parameter on PostgreSQL (whose planner takes thousands of literals badly). Split the values
 * in parts of `oneOfLimit(database)`.
 */
export function oneOf(database: Database, column: string, values: readonly unknown[]): { sql: string; params: unknown[] } {
  return database.sqlite
    ? { sql: `${column} in (${values.map(() => "?").join(", ")})`, params: [...values] }
    : { sql: `${column} = any(?)`, params: [values] };
}

/**
 * How many values one `oneOf` condition takes: SQLite's bound parameters are limited; PostgreSQL plans
 * one scan for the whole array, where each part would be planned, and maybe scanned, on its own.
 */
export function oneOfLimit(database: Database): number {
  return database.sqlite ? 10_000 : Number.MAX_SAFE_INTEGER;
}

/**
 * A table `ids (id)` of strings for streamRows, bound as one parameter however many: a JSON array on
 * SQLite, a text array on PostgreSQL. Joined row by row in their order: sorted, they follow an index.
 */
export function idTable(database: Database, ids: readonly string[]): { sql: string; params: unknown[] } {
  return database.sqlite
    ? { sql: "(select value as id from json_each(?)) as ids", params: [JSON.stringify(ids)] }
    : { sql: "unnest(?::text[]) as ids (id)", params: [ids] };
}

/**
 * Streams the rows of a query as arrays of column values, in chunks: `types` are the PostgreSQL types
 * of its columns, in which PostgreSQL sends them (binary COPY, which takes no parameters: `params` are
 * written into the statement as literals). Numbers come as numbers (int8 too), bytea as bytes.
 *
 * @example
 * for await (const rows of streamRows(database, "select day, entries from region_days where day >= ?", [day], ["int4", "bytea"])) …
 */
export async function* streamRows(
  database: Database,
  sqlText: string,
  params: readonly unknown[],
  types: readonly ColumnType[],
  chunk = 10_000,
): AsyncGenerator<unknown[][]> {
  if (database.sqlite) {
    let rows: unknown[][] = [];
    for (const row of database.sqlite
      .prepare(sqlText)
      .raw(true)
      .iterate(...params) as Iterable<unknown[]>) {
      rows.push(row);
      if (rows.length === chunk) {
        yield rows;
        rows = [];
      }
    }
    if (rows.length > 0) yield rows;
    return;
  }
  const client = await database.pool!.connect();
  let done = false;
  try {
    yield* copyRowsOut(client, withLiterals(sqlText, params), types, chunk);
    done = true;
  } finally {
    // A COPY left unread would keep sending to the connection: it is closed rather than reused.
    client.release(!done);
  }
}

/** A column of a bulk write: its name and its PostgreSQL type. */
export type BulkColumn = readonly [name: string, pgType: ColumnType];

/** The PostgreSQL types bulk reads and writes carry. */
export type ColumnType = "int4" | "int8" | "float8" | "text" | "bytea";

/** Statements of one write transaction. */
export interface BulkWriter {
  readonly dialect: Dialect;
  exec(sqlText: string, params?: unknown[]): Promise<void>;
  /** Rows of a query inside the transaction, each as an array of its columns. */
  query(sqlText: string, params?: unknown[]): Promise<unknown[][]>;
  /** Inserts rows, taken from `rows` as they are written. */
  insert(table: string, columns: readonly BulkColumn[], rows: Iterable<readonly unknown[]>): Promise<void>;
}

/** Values bound per multi-row SQLite insert, well within SQLite's limit of bound parameters. */
const SQLITE_ROWS_PER_INSERT = 512;

/** Runs `work` in one transaction with bulk statements; on SQLite, holding the write lock from its start. */
export async function withBulkWriter(database: Database, work: (writer: BulkWriter) => Promise<void>): Promise<void> {
  if (database.sqlite) {
    const sqlite = database.sqlite;
    sqlite.exec("begin immediate");
    try {
      await work({
        dialect: "sqlite",
        async exec(sqlText, params = []) {
          sqlite.prepare(sqlText).run(...params);
        },
        async query(sqlText, params = []) {
          return sqlite
            .prepare(sqlText)
            .raw()
            .all(...params) as unknown[][];
        },
        async insert(table, columns, rows) {
          // Many rows per statement: one call into SQLite per chunk rather than per row.
          const statement = (count: number) =>
            sqlite.prepare(
              `insert into ${table} (${columns.map((c) => c[0]).join(", ")}) values ${Array.from(
                { length: count },
                () => `(${columns.map(() => "?").join(", ")})`,
              ).join(", ")}`,
            );
          const perStatement = Math.max(1, Math.floor(SQLITE_ROWS_PER_INSERT / columns.length));
          const many = statement(perStatement);
          let values: unknown[] = [];
          let count = 0;
          for (const row of rows) {
            values.push(...row);
            if (++count === perStatement) {
              many.run(values);
              values = [];
              count = 0;
            }
          }
          if (count > 0) statement(count).run(values);
        },
      });
      sqlite.exec("commit");
    } catch (error) {
      sqlite.exec("rollback");
      throw error;
    }
    return;
  }
  const client = await database.pool!.connect();
  try {
    await client.query("begin");
    await work({
      dialect: "postgres",
      async exec(sqlText, params = []) {
        await client.query(toPostgres(sqlText), params);
      },
      async query(sqlText, params = []) {
        return (await client.query({ text: toPostgres(sqlText), values: params, rowMode: "array" })).rows as unknown[][];
      },
      async insert(table, columns, rows) {
        await copyRows(client, table, columns, rows);
      },
    });
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
