import { sql, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * Derived tables in a compact form: chart rows of 5 bytes instead of 12, and tag series in blocks of
 * days keyed by block first. Both keep every row on its B-tree page, and a build that recomputes
 * recent days rewrites only the recent blocks. Derived data is dropped: the next build recomputes it
 * from the raw store.
 */
export function compactDerivedMigration(dialect: Dialect) {
  const blob = dialect === "postgres" ? "bytea" : "blob";
  const withoutRowid = dialect === "sqlite" ? sql` without rowid` : sql``;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const table of ["charts", "chart_series", "tag_series", "region_days"]) await db.schema.dropTable(table).execute();
      await sql`create table tag_series (
        block integer not null, tag integer not null, region text not null, days ${sql.raw(blob)} not null,
        primary key (block, tag, region))${withoutRowid}`.execute(db);
      await sql`create table region_days (
        day integer not null, region text not null, entries ${sql.raw(blob)} not null,
        primary key (day, region))`.execute(db);
      await sql`create table charts (
        day integer not null, region text not null, period integer not null, industry text not null,
        entries ${sql.raw(blob)} not null, primary key (day, region, period, industry))${withoutRowid}`.execute(db);
      await sql`create table chart_series (
        region text not null, period integer not null, industry text not null, firsts ${sql.raw(blob)} not null,
        primary key (region, period, industry))`.execute(db);
      await sql`delete from engine_state where key = 'dirty_from'`.execute(db);
    },
  };
}
