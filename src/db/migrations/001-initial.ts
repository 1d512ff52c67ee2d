import { sql, type CreateTableBuilder, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/** Raw store (tags, catalog, videos, observations, creators) and the engine's derived tables. */
export function initialMigration(dialect: Dialect) {
  const bigint = dialect === "postgres" ? "bigint" : "integer";
  const blob = dialect === "postgres" ? "bytea" : "blob";
  // Clustered on the primary key in SQLite, like PostgreSQL's heap plus index but without the rowid hop.
  const withoutRowid = <T extends CreateTableBuilder<string, string>>(builder: T): T =>
    (dialect === "sqlite" ? builder.modifyEnd(sql`without rowid`) : builder) as T;

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("tags")
        .addColumn("id", dialect === "postgres" ? "serial" : "integer", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull().unique())
        .execute();

      await db.schema
        .createTable("hashtags")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("hashtag_id", "text", (c) => c.notNull())
        .addColumn("industry_id", bigint)
        .addColumn("is_promoted", "integer", (c) => c.notNull().defaultTo(0))
        .execute();

      await db.schema
        .createTable("videos")
        .addColumn("video_id", "text", (c) => c.primaryKey())
        .addColumn("create_time", bigint, (c) => c.notNull())
        .addColumn("region", "text", (c) => c.notNull())
        .addColumn("username", "text", (c) => c.notNull())
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("latest_at", bigint, (c) => c.notNull())
        .addColumn("latest_views", bigint, (c) => c.notNull())
        .addColumn("latest_sig", "text", (c) => c.notNull())
        .addColumn("first_at", bigint, (c) => c.notNull())
        .addColumn("last_at", bigint, (c) => c.notNull())
        .$call(withoutRowid)
        .execute();

      await db.schema
        .createTable("observations")
        .addColumn("video_id", "text", (c) => c.notNull())
        .addColumn("observed_at", bigint, (c) => c.notNull())
        .addColumn("view_count", bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("observations_pk", ["video_id", "observed_at"])
        .$call(withoutRowid)
        .execute();
      // Covers the engine's read of everything observed since a day, in time order.
      await db.schema.createIndex("observations_observed_at").on("observations").columns(["observed_at", "view_count"]).execute();

      await db.schema
        .createTable("video_tags")
        .addColumn("tag", "integer", (c) => c.notNull())
        .addColumn("video_id", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("video_tags_pk", ["tag", "video_id"])
        .$call(withoutRowid)
        .execute();

      await db.schema
        .createTable("creators")
        .addColumn("username", "text", (c) => c.primaryKey())
        .addColumn("nick_name", "text")
        .addColumn("avatar_url", "text")
        .addColumn("seen_at", bigint, (c) => c.notNull())
        .addColumn("seen_views", bigint, (c) => c.notNull())
        .addColumn("seen_sig", "text", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("tag_series")
        .addColumn("tag", "integer", (c) => c.notNull())
        .addColumn("region", "text", (c) => c.notNull())
        .addColumn("days", blob, (c) => c.notNull())
        .addPrimaryKeyConstraint("tag_series_pk", ["tag", "region"])
        .$call(withoutRowid)
        .execute();

      await db.schema
        .createTable("region_days")
        .addColumn("day", "integer", (c) => c.notNull())
        .addColumn("region", "text", (c) => c.notNull())
        .addColumn("entries", blob, (c) => c.notNull())
        .addPrimaryKeyConstraint("region_days_pk", ["day", "region"])
        .execute();

      await db.schema
        .createTable("charts")
        .addColumn("day", "integer", (c) => c.notNull())
        .addColumn("region", "text", (c) => c.notNull())
        .addColumn("period", "integer", (c) => c.notNull())
        .addColumn("industry", "text", (c) => c.notNull())
        .addColumn("entries", blob, (c) => c.notNull())
        .addPrimaryKeyConstraint("charts_pk", ["day", "region", "period", "industry"])
        .$call(withoutRowid)
        .execute();

      await db.schema
        .createTable("chart_series")
        .addColumn("region", "text", (c) => c.notNull())
        .addColumn("period", "integer", (c) => c.notNull())
        .addColumn("industry", "text", (c) => c.notNull())
        .addColumn("firsts", blob, (c) => c.notNull())
        .addPrimaryKeyConstraint("chart_series_pk", ["region", "period", "industry"])
        .execute();

      await db.schema
        .createTable("engine_state")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
    },
  };
}
