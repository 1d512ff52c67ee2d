import type { Kysely } from "kysely";
import type { DatabaseSchema } from "../db/schema.js";

/**
 * The earliest day whose charts may be stale. Ingest lowers it in the same transaction that stores
 * the data; a build removes it once every chart from that day on is recomputed.
 */
const DIRTY_FROM = "dirty_from";

export async function readDirtyFrom(db: Kysely<DatabaseSchema>): Promise<number | null> {
  const row = await db.selectFrom("engine_state").select("value").where("key", "=", DIRTY_FROM).executeTakeFirst();
  return row ? Number(row.value) : null;
}

/** Marks charts from `day` on as stale (keeps an earlier mark). */
export async function markDirtyFrom(db: Kysely<DatabaseSchema>, day: number): Promise<void> {
  const current = await readDirtyFrom(db);
  if (current !== null && current <= day) return;
  await db
    .insertInto("engine_state")
    .values({ key: DIRTY_FROM, value: String(day) })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value: String(day) }))
    .execute();
}
