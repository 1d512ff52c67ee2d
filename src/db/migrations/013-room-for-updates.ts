import { sql, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/** Share of each page that PostgreSQL fills on insert, the rest left for newer versions of its rows. */
const FILL_PERCENT = 80;

/**
 * Every batch that observes a video or a creator again rewrites its row. PostgreSQL writes the new
 * version of a row elsewhere, and, when the page is full, another entry in each of the table's indexes:
 * with room left on each page, the new version stays on it and the indexes are left alone (a
 * heap-only tuple), and the dead versions are pruned from the page as it is next used, without a vacuum.
 * Pages written before this keep no room; SQLite rewrites rows in place.
 */
export function roomForUpdatesMigration(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect !== "postgres") return;
      for (const table of ["videos", "creators"]) {
        await sql`alter table ${sql.table(table)} set (fillfactor = ${sql.lit(FILL_PERCENT)})`.execute(db);
      }
    },
  };
}
