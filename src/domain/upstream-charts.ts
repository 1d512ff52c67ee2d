import { deflateRawSync, inflateRawSync } from "node:zlib";
import { sql } from "kysely";
import type { Database } from "../db/database.js";
import { formatDay } from "../lib/days.js";
import { TagpulseError } from "../lib/errors.js";
import { CHART_SIZE, type Period } from "./chart-model.js";
import { chartRegion, type ChartItem, type ChartRows } from "./chart-service.js";
import { bumpCounterSql, readCounter, UPSTREAM_VERSION_KEY } from "./engine-state.js";

/** A collected row: the public item, with movement only when the upstream sent it. */
export type UpstreamRow = Omit<ChartItem, "rank_diff" | "rank_diff_type"> & Partial<Pick<ChartItem, "rank_diff" | "rank_diff_type">>;

/** One chart as an upstream served it on one day, normalized to tagpulse's chart model. */
export interface UpstreamSnapshot {
  readonly day: number;
  readonly region: string;
  readonly period: Period;
  readonly industry: string;
  /** Which client collected it, e.g. `creative_center_gen2`. */
  readonly source: string;
  /** Unix milliseconds. */
  readonly fetchedAt: number;
  /** Every row of the chart was fetched; false for a truncated preview. */
  readonly complete: boolean;
  readonly rows: readonly UpstreamRow[];
}

/** What became of a snapshot offered to the store. */
export type StoreOutcome = "stored" | "kept_fuller";

/** A collected chart ready to serve, with where and when it came from. */
export interface CollectedChartRows extends ChartRows {
  readonly source: string;
  /** ISO time the upstream answered. */
  readonly collected_at: string;
  readonly complete: boolean;
}

export interface UpstreamChartService {
  /**
   * Stores a snapshot, unless the store holds a fuller one of the same chart and day: a preview never
   * replaces a complete chart, nor fewer rows more. An empty snapshot is refused.
   */
  store(snapshot: UpstreamSnapshot): Promise<StoreOutcome>;
  /**
   * A collected chart with movement and new-to-top-100 from the snapshot history. Without a day, the
   * latest complete snapshot, or the latest preview when none is complete.
   */
  getChartRows(query: { region: string; period: Period; industry: string; asOf?: number | undefined }): Promise<CollectedChartRows>;
  /** The collector's state left by the last run of any process, or null before the first. */
  collectorState(): Promise<CollectorState | null>;
  /**
   * Saves the collector's state, unless the stored one holds a pause still in effect at `now` that ends
   * later: a run of another process that ended without refusals does not lift it.
   */
  saveCollectorState(state: CollectorState, now: number): Promise<void>;
  /** The newest fetch time of any snapshot (Unix ms), or null before the first. */
  lastFetchedAt(): Promise<number | null>;
  /** Tells readers that snapshots were stored, so they drop what they cached: once per collection run, not per chart. */
  publish(): Promise<void>;
  /** Changes on each publish. */
  version(): Promise<string>;
}

/** What a collector keeps between runs: its circuit breaker, and a pause in effect with its reason. */
export interface CollectorState {
  /** The breaker's own serialized state (refusals counted, open or closed). */
  readonly breaker: unknown;
  /** Unix ms. */
  readonly pause: { readonly until: number; readonly reason: string } | null;
}

/** The `engine_state` key of the collector's state. */
const COLLECTOR_STATE_KEY = "creative_center_collector";

interface StoredRows {
  readonly rows: readonly UpstreamRow[];
}

export function createUpstreamChartService(deps: { database: Database }): UpstreamChartService {
  const { db } = deps.database;

  return {
    async store(snapshot) {
      if (snapshot.rows.length === 0) throw new TagpulseError("invalid_input", "an empty chart is never stored");
      if (snapshot.rows.length > CHART_SIZE) throw new TagpulseError("invalid_input", `a chart holds at most ${CHART_SIZE} rows`);
      const key = { day: snapshot.day, region: snapshot.region, period: snapshot.period, industry: snapshot.industry };
      const row = {
        ...key,
        source: snapshot.source,
        fetched_at: snapshot.fetchedAt,
        complete: snapshot.complete ? 1 : 0,
        row_count: snapshot.rows.length,
        rows: encodeRows({ rows: snapshot.rows }),
      };
      return db.transaction().execute(async (trx) => {
        // One statement decides and writes, so that two sweeps storing the same chart cannot both win.
        const written = await trx
          .insertInto("upstream_snapshots")
          .values(row)
          .onConflict((oc) =>
            oc
              .columns(["region", "period", "industry", "day"])
              .doUpdateSet({
                source: row.source,
                fetched_at: row.fetched_at,
                complete: row.complete,
                row_count: row.row_count,
                rows: row.rows,
              })
              .where(({ eb, ref }) =>
                eb.and([
                  eb(ref("excluded.complete"), ">=", ref("upstream_snapshots.complete")),
                  eb(ref("excluded.row_count"), ">=", ref("upstream_snapshots.row_count")),
                ]),
              ),
          )
          .returning("day")
          .executeTakeFirst();
        if (!written) return "kept_fuller";
        await trx
          .insertInto("upstream_firsts")
          .values(
            // In key order: two transactions locking rows of one chart series cannot then deadlock.
            snapshot.rows
              .map((r) => r.hashtag_name)
              .sort()
              .map((hashtag_name) => ({
                region: key.region,
                period: key.period,
                industry: key.industry,
                hashtag_name,
                first_day: key.day,
              })),
          )
          .onConflict((oc) =>
            oc.columns(["region", "period", "industry", "hashtag_name"]).doUpdateSet({
              first_day: sql`case when excluded.first_day < upstream_firsts.first_day then excluded.first_day else upstream_firsts.first_day end`,
            }),
          )
          .execute();
        return "stored";
      });
    },

    async getChartRows(query) {
      const region = chartRegion(query);
      const chart = db
        .selectFrom("upstream_snapshots")
        .where("region", "=", region)
        .where("period", "=", query.period)
        .where("industry", "=", query.industry);
      // The day first, then its row: choosing among the days reads no snapshot's rows.
      const chosen = await (query.asOf === undefined ? chart : chart.where("day", "=", query.asOf))
        .select("day")
        .orderBy("complete", "desc")
        .orderBy("day", "desc")
        .limit(1)
        .executeTakeFirst();
      const found = chosen && (await chart.selectAll().where("day", "=", chosen.day).executeTakeFirst());
      const what = `${region}, ${query.period} days, industry ${query.industry}`;
      if (!found) {
        throw new TagpulseError(
          "no_data",
          query.asOf === undefined ? `no collected chart for ${what}` : `no collected chart for ${what} on ${formatDay(query.asOf)}`,
        );
      }
      const day = Number(found.day);
      const rows = decodeRows(found.rows).rows;
      const previous = await chart
        .select("rows")
        .where("day", "=", day - 1)
        .executeTakeFirst();
      const previousRanks = new Map(previous ? decodeRows(previous.rows).rows.map((r) => [r.hashtag_name, r.rank]) : []);
      const firsts = new Map(
        (
          await db
            .selectFrom("upstream_firsts")
            .select(["hashtag_name", "first_day"])
            .where("region", "=", region)
            .where("period", "=", query.period)
            .where("industry", "=", query.industry)
            .where(
              "hashtag_name",
              "in",
              rows.map((r) => r.hashtag_name),
            )
            .execute()
        ).map((r) => [r.hashtag_name, Number(r.first_day)]),
      );
      return {
        as_of: formatDay(day),
        window_start: formatDay(day - query.period + 1),
        window_end: formatDay(day),
        source: found.source,
        collected_at: new Date(Number(found.fetched_at)).toISOString(),
        complete: Number(found.complete) === 1,
        rows: rows.map((row) => ({
          item: withMovement(row, previousRanks.get(row.hashtag_name)),
          // Movement the upstream sent may know days before our history: a row it says was there yesterday is not new.
          isNew: firsts.get(row.hashtag_name) === day && (row.rank_diff_type === undefined || row.rank_diff_type === 4),
        })),
      };
    },

    async collectorState() {
      const row = await db.selectFrom("engine_state").select("value").where("key", "=", COLLECTOR_STATE_KEY).executeTakeFirst();
      return row ? (JSON.parse(row.value) as CollectorState) : null;
    },

    async saveCollectorState(state, now) {
      await db.transaction().execute(async (trx) => {
        const current = trx.selectFrom("engine_state").select("value").where("key", "=", COLLECTOR_STATE_KEY);
        const stored = await (deps.database.dialect === "postgres" ? current.forUpdate() : current).executeTakeFirst();
        const pause = stored ? (JSON.parse(stored.value) as CollectorState).pause : null;
        if (pause && pause.until > now && pause.until > (state.pause?.until ?? 0)) return;
        const value = JSON.stringify(state);
        await trx
          .insertInto("engine_state")
          .values({ key: COLLECTOR_STATE_KEY, value })
          .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
          .execute();
      });
    },

    async lastFetchedAt() {
      const row = await db
        .selectFrom("upstream_snapshots")
        .select((eb) => eb.fn.max("fetched_at").as("last"))
        .executeTakeFirst();
      return row?.last == null ? null : Number(row.last);
    },

    async publish() {
      await sql.raw(bumpCounterSql(UPSTREAM_VERSION_KEY)).execute(db);
    },

    version: () => readCounter(db, UPSTREAM_VERSION_KEY),
  };
}

function encodeRows(stored: StoredRows): Buffer {
  return deflateRawSync(JSON.stringify(stored));
}

function decodeRows(blob: Uint8Array): StoredRows {
  return JSON.parse(inflateRawSync(blob).toString("utf8")) as StoredRows;
}

/** The row with the upstream's own movement, or movement against the previous day's snapshot (charts.md rules). */
function withMovement(row: UpstreamRow, previousRank: number | undefined): ChartItem {
  const { rank_diff, rank_diff_type, ...rest } = row;
  if (rank_diff_type !== undefined) return { ...rest, rank_diff: rank_diff ?? null, rank_diff_type };
  if (previousRank === undefined) return { ...rest, rank_diff: null, rank_diff_type: 4 };
  return {
    ...rest,
    rank_diff: Math.abs(previousRank - row.rank),
    rank_diff_type: row.rank < previousRank ? 1 : row.rank === previousRank ? 2 : 3,
  };
}
