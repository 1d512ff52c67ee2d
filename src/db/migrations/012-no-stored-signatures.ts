import { sql, type Kysely } from "kysely";

/**
 * Drops the signatures stored beside each video's and creator's latest observation. They repeat the
 * row's own attributes (a video's create time, region, tags and creator; a creator's display fields),
 * from which ingest builds a signature only when two observations have the same time and views.
 */
export const noStoredSignaturesMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`alter table videos drop column latest_sig`.execute(db);
    await sql`alter table creators drop column seen_sig`.execute(db);
  },
};
