import { sql, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * The window sums of every chart series as of the last built day, so that the next day's build starts
 * from them instead of adding up 120 stored days again. Derived: a build without them reads the days.
 */
export function chartWindowsMigration(dialect: Dialect) {
  const blob = dialect === "postgres" ? "bytea" : "blob";
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`create table chart_windows (
        region text not null, period integer not null, day integer not null, entries ${sql.raw(blob)} not null,
        primary key (region, period))`.execute(db);
      if (dialect === "postgres") await sql`alter table chart_windows alter column entries set storage external`.execute(db);
    },
  };
}
