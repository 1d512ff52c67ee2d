import { sql, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * PostgreSQL compresses values of more than 2 kB before storing them out of line. The engine's whole
 * days and first-entry lists are packed numbers that compress little, and collected charts are already
 * deflated: they are stored out of line as they are (a day's build wrote its 7 MB of days six times
 * faster). SQLite never compresses.
 */
export function packedColumnsUncompressedMigration(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect !== "postgres") return;
      for (const [table, column] of [
        ["region_days", "entries"],
        ["chart_series", "firsts"],
        ["upstream_snapshots", "rows"],
      ] as const) {
        await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} set storage external`.execute(db);
      }
    },
  };
}
