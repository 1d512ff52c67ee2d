import type { Kysely } from "kysely";
import type { DatabaseSchema } from "../db/schema.js";

/**
 * What ingest made stale, each as the earliest day concerned. Ingest lowers a mark in the same
 * transaction that stores the data; a build removes both once every chart from those days on is
 * recomputed.
 */
export interface StaleMarks {
  /** Views or video attributes changed on or after this day: everything from it on is recomputed. */
  readonly from: number | null;
  /** Newly stored videos were published on or after this day: only publish counts change there. */
  readonly publishedFrom: number | null;
}

/** The `engine_state` key of each mark. */
export const STALE_MARK_KEYS: Readonly<Record<keyof StaleMarks, string>> = { from: "dirty_from", publishedFrom: "published_from" };

export async function readStaleMarks(db: Kysely<DatabaseSchema>): Promise<StaleMarks> {
  const rows = await db.selectFrom("engine_state").select(["key", "value"]).where("key", "in", Object.values(STALE_MARK_KEYS)).execute();
  const mark = (key: string) => {
    const row = rows.find((r) => r.key === key);
    return row ? Number(row.value) : null;
  };
  return { from: mark(STALE_MARK_KEYS.from), publishedFrom: mark(STALE_MARK_KEYS.publishedFrom) };
}

/** Lowers a mark to `day` (keeps an earlier one). */
export async function markStale(db: Kysely<DatabaseSchema>, mark: keyof StaleMarks, day: number): Promise<void> {
  const key = STALE_MARK_KEYS[mark];
  const current = await db.selectFrom("engine_state").select("value").where("key", "=", key).executeTakeFirst();
  if (current !== undefined && Number(current.value) <= day) return;
  await db
    .insertInto("engine_state")
    .values({ key, value: String(day) })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value: String(day) }))
    .execute();
}
