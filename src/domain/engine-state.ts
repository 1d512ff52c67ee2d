import type { Kysely } from "kysely";
import type { DatabaseSchema } from "../db/schema.js";

/**
 * What ingest made stale, each as the earliest day concerned. Ingest lowers a mark in the same
 * transaction that stores the data; a build removes both once every chart from those days on is
 * recomputed.
 */
export interface StaleMarks {
  /** Observed views changed on or after this day: everything from it on is recomputed. */
  readonly from: number | null;
  /**
   * From this day on, only how known views count changed: publications of new videos, and videos
   * whose attributes changed (`recounted_videos`).
   */
  readonly recountFrom: number | null;
}

/** The `engine_state` key of each mark. */
export const STALE_MARK_KEYS: Readonly<Record<keyof StaleMarks, string>> = { from: "dirty_from", recountFrom: "recount_from" };

/**
 * The `engine_state` key of a counter that every ingest transaction raises: a build that saw it change
 * while it read may have missed what that ingest wrote.
 */
export const GENERATION_KEY = "generation";

/** The `engine_state` key of a counter that every build raises when it writes: readers of charts drop what they cached. */
export const CHARTS_VERSION_KEY = "charts_version";

/** The `engine_state` key of a counter raised whenever a collected chart is stored. */
export const UPSTREAM_VERSION_KEY = "upstream_version";

type CounterKey = typeof GENERATION_KEY | typeof CHARTS_VERSION_KEY | typeof UPSTREAM_VERSION_KEY;

/** Raises a counter of `engine_state`, in the caller's transaction. */
export function bumpCounterSql(key: CounterKey): string {
  return `insert into engine_state (key, value) values ('${key}', '1')
  on conflict (key) do update set value = cast(cast(engine_state.value as bigint) + 1 as text)`;
}

/** Raises the generation counter, in the caller's transaction. */
export const BUMP_GENERATION_SQL = bumpCounterSql(GENERATION_KEY);

export async function readCounter(db: Kysely<DatabaseSchema>, key: CounterKey): Promise<string> {
  const row = await db.selectFrom("engine_state").select("value").where("key", "=", key).executeTakeFirst();
  return row?.value ?? "0";
}

export async function readStaleMarks(db: Kysely<DatabaseSchema>): Promise<StaleMarks> {
  const rows = await db.selectFrom("engine_state").select(["key", "value"]).where("key", "in", Object.values(STALE_MARK_KEYS)).execute();
  const mark = (key: string) => {
    const row = rows.find((r) => r.key === key);
    return row ? Number(row.value) : null;
  };
  return { from: mark(STALE_MARK_KEYS.from), recountFrom: mark(STALE_MARK_KEYS.recountFrom) };
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
