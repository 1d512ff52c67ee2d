import { sql, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * Videos whose attributes changed since the charts last counted them, with the attributes they were
 * counted with: an incremental build moves their views from the old attributes to the new ones
 * instead of recomputing every day since they were first seen. And the generation counter, which
 * every ingest raises, from its first value.
 */
export function recountedVideosMigration(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("recounted_videos")
        .addColumn("video_id", "text", (c) => c.primaryKey())
        .addColumn("create_time", dialect === "postgres" ? "bigint" : "integer", (c) => c.notNull())
        .addColumn("region", "text", (c) => c.notNull())
        .addColumn("tags", "text", (c) => c.notNull())
        .execute();
      await sql`insert into engine_state (key, value) values ('generation', '0') on conflict (key) do nothing`.execute(db);
    },
  };
}
