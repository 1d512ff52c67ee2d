import { sql, type Kysely } from "kysely";

/**
 * Tag series move to blocks of 16 days (from 32): a day's update rewrites shorter rows. The stored
 * blocks no longer match, so the derived data is emptied: the next build recomputes all of it.
 */
export const seriesBlocksOf16DaysMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const table of ["tag_series", "charts", "chart_series", "region_days"]) await sql`delete from ${sql.table(table)}`.execute(db);
    await sql`delete from engine_state where key = 'dirty_from'`.execute(db);
  },
};
