import type { Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * Charts collected from TikTok Creative Center: one snapshot per chart and as-of day with its
 * provenance, and, per chart series, the first day each hashtag was seen in it (for new-to-top-100).
 */
export function upstreamSnapshotsMigration(dialect: Dialect) {
  const bigint = dialect === "postgres" ? "bigint" : "integer";
  const blob = dialect === "postgres" ? "bytea" : "blob";
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("upstream_snapshots")
        .addColumn("day", "integer", (c) => c.notNull())
        .addColumn("region", "text", (c) => c.notNull())
        .addColumn("period", "integer", (c) => c.notNull())
        .addColumn("industry", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("fetched_at", bigint, (c) => c.notNull())
        .addColumn("complete", "integer", (c) => c.notNull())
        .addColumn("row_count", "integer", (c) => c.notNull())
        .addColumn("rows", blob, (c) => c.notNull())
        .addPrimaryKeyConstraint("upstream_snapshots_pk", ["region", "period", "industry", "day"])
        .execute();
      // The newest fetch time, asked by every readiness check and metrics scrape, without a scan.
      await db.schema.createIndex("upstream_snapshots_fetched_at").on("upstream_snapshots").column("fetched_at").execute();
      await db.schema
        .createTable("upstream_firsts")
        .addColumn("region", "text", (c) => c.notNull())
        .addColumn("period", "integer", (c) => c.notNull())
        .addColumn("industry", "text", (c) => c.notNull())
        .addColumn("hashtag_name", "text", (c) => c.notNull())
        .addColumn("first_day", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("upstream_firsts_pk", ["region", "period", "industry", "hashtag_name"])
        .execute();
    },
  };
}
