import { sql, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * Each video's highest view count, overall and before the day of its last observation, kept by ingest:
 * a build of that day reads where the video's views stood from its row instead of its observations.
 * Stored videos get theirs from their observations.
 */
export function videoPeaksMigration(dialect: Dialect) {
  const bigint = sql.raw(dialect === "postgres" ? "bigint" : "integer");
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`alter table videos add column peak_views ${bigint} not null default 0`.execute(db);
      await sql`alter table videos add column peak_before_last_day ${bigint} not null default 0`.execute(db);
      // Times are positive: integer division rounds down to the day.
      await sql`
        update videos set
          peak_views = coalesce((select max(o.view_count) from observations o where o.video_id = videos.video_id), 0),
          peak_before_last_day = coalesce(
            (select max(o.view_count) from observations o
             where o.video_id = videos.video_id and o.observed_at < videos.last_at / 86400 * 86400),
            0)`.execute(db);
    },
  };
}
