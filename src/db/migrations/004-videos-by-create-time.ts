import type { Kysely } from "kysely";

/**
 * Videos by publication time: an incremental build counts the publications of recent days from it,
 * instead of reading every observation of those days.
 */
export const videosByCreateTimeMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createIndex("videos_create_time").on("videos").column("create_time").execute();
  },
};
