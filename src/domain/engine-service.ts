import { streamRows, withBulkWriter, type BulkWriter } from "../db/bulk.js";
import { checkpointInBackground } from "../db/checkpoint.js";
import type { Database } from "../db/database.js";
import { dayOf } from "../lib/days.js";
import { CodeIndex } from "../lib/code-index.js";
import { CHART_INDUSTRIES, CHART_REGIONS, PERIODS } from "./chart-model.js";
import { bumpCounterSql, CHARTS_VERSION_KEY, GENERATION_KEY, readCounter, readStaleMarks, STALE_MARK_KEYS } from "./engine-state.js";
import { TagpulseError } from "../lib/errors.js";
import { ALL_REGIONS, INDUSTRIES } from "./reference-data.js";
import { readVideoGains, type VideoGains } from "./engine-gains.js";
import {
  decodeChartTags,
  decodeInts,
  decodeRegionDay,
  encodeDaySeries,
  encodeInts,
  encodeRegionDay,
  seriesBlock,
  SERIES_BLOCK_DAYS,
  type RegionDay,
} from "./series-codec.js";
import { rankRegionsInParallel, type EarlierChart } from "./chart-ranking.js";

export interface BuildReport {
  /** False when the charts were already up to date. */
  readonly built: boolean;
  readonly full: boolean;
  readonly firstDay: number | null;
  readonly lastDay: number | null;
  /** First recomputed day. */
  readonly fromDay: number | null;
  readonly days: number;
  readonly charts: number;
  readonly observations: number;
  readonly seconds: number;
  /** Seconds spent in each stage. */
  readonly stages?: Partial<Record<BuildProgress["stage"], number>>;
  /** Threads that ranked the charts. */
  readonly rankingThreads?: number;
}

export interface BuildProgress {
  readonly stage: "reading" | "aggregating" | "ranking" | "writing";
  readonly done: number;
  readonly total: number;
}

export interface EngineService {
  /**
   * Brings every chart up to date: from the earliest day that ingest marked stale, or from the data's
   * first day when `full` is set.
   */
  build(options?: { full?: boolean; onProgress?: (progress: BuildProgress) => void }): Promise<BuildReport>;
}

/** Builds tried before giving up while ingest keeps committing. */
const BUILD_ATTEMPTS = 3;

/** Thrown inside a build's write transaction when an ingest committed after the build began reading. */
class Superseded extends Error {}

const REGION_SLOT = new Map(CHART_REGIONS.map((code, slot) => [code, slot]));
const INDUSTRY_INDEX = new Map(INDUSTRIES.map((industry, i) => [industry.id, i + 1]));
const SERIES_PER_SLOT = PERIODS.length * CHART_INDUSTRIES.length;
const SERIES_COUNT = CHART_REGIONS.length * SERIES_PER_SLOT;
const MAX_PERIOD = PERIODS[PERIODS.length - 1]!;

function seriesIndex(slot: number, periodIndex: number, industryIndex: number): number {
  return slot * SERIES_PER_SLOT + periodIndex * CHART_INDUSTRIES.length + industryIndex;
}

function seriesKey(series: number): { region: string; period: number; industry: string } {
  const slot = Math.floor(series / SERIES_PER_SLOT);
  const rest = series % SERIES_PER_SLOT;
  return {
    region: CHART_REGIONS[slot]!,
    period: PERIODS[Math.floor(rest / CHART_INDUSTRIES.length)]!,
    industry: CHART_INDUSTRIES[rest % CHART_INDUSTRIES.length]!,
  };
}

/**
 * The trend engine: turns stored observations into per-tag daily series (`tag_series`) and the ranked
 * membership of every chart (`charts`, `chart_series`), as docs/charts.md defines them. A build
 * recomputes everything from the first stale day on and keeps what came before.
 */
export function createEngineService(deps: { database: Database }): EngineService {
  const database = deps.database;
  const { db } = database;

  return {
    async build(options = {}) {
      for (let attempt = 1; ; attempt++) {
        const report = await buildOnce(options);
        if (report) return report;
        if (attempt === BUILD_ATTEMPTS) {
          throw new TagpulseError(
            "unavailable",
            `the charts were not built: ingest changed the data during each of ${BUILD_ATTEMPTS} attempts; run the build again`,
          );
        }
      }
    },
  };

  /** Runs one write transaction; false when `finish` found it superseded, and it rolled back. */
  async function writeUnlessSuperseded(work: (writer: BulkWriter) => Promise<void>): Promise<boolean> {
    try {
      await withBulkWriter(database, work);
      return true;
    } catch (error) {
      if (error instanceof Superseded) return false;
      throw error;
    }
  }

  /** One build, or undefined when an ingest committed while it read: then it wrote nothing. */
  async function buildOnce(options: Parameters<EngineService["build"]>[0] = {}): Promise<BuildReport | undefined> {
    const started = performance.now();
    const generation = await readCounter(db, GENERATION_KEY);
    const stages: Partial<Record<BuildProgress["stage"], number>> = {};
    let stage: BuildProgress["stage"] | undefined;
    let stageStarted = started;
    const progress = (update: BuildProgress) => {
      if (update.stage !== stage) {
        const now = performance.now();
        if (stage) stages[stage] = (stages[stage] ?? 0) + (now - stageStarted) / 1000;
        stage = update.stage;
        stageStarted = now;
      }
      options.onProgress?.(update);
    };
    // Two subqueries: each reads one end of the index, where one query with both would scan it all.
    const span = await db
      .selectNoFrom((eb) => [
        eb
          .selectFrom("observations")
          .select((o) => o.fn.min("observed_at").as("at"))
          .as("first"),
        eb
          .selectFrom("observations")
          .select((o) => o.fn.max("observed_at").as("at"))
          .as("last"),
      ])
      .executeTakeFirst();
    const marks = await readStaleMarks(db);
    const marked = marks.from !== null || marks.recountFrom !== null;
    // The build's writes go through only if no ingest committed since it began, and then all of the
    // ingests' marks and recounted videos were taken into account: they go.
    const finish = async (writer: BulkWriter) => {
      const [current] = await writer.query(`select value from engine_state where key = ?${database.sqlite ? "" : " for update"}`, [
        GENERATION_KEY,
      ]);
      if (String(current?.[0] ?? "0") !== generation) throw new Superseded("an ingest committed during the build");
      await writer.exec(
        `delete from engine_state where key in (${Object.values(STALE_MARK_KEYS)
          .map(() => "?")
          .join(", ")})`,
        [...Object.values(STALE_MARK_KEYS)],
      );
      await writer.exec("delete from recounted_videos");
      await writer.exec(bumpCounterSql(CHARTS_VERSION_KEY));
    };
    const full = options.full === true;
    if (span?.first == null || span.last == null) {
      const written = await writeUnlessSuperseded(async (writer) => {
        await finish(writer);
        for (const table of ["charts", "chart_series", "chart_windows", "tag_series", "region_days"])
          await writer.exec(`delete from ${table}`);
      });
      return written ? report(started, { built: marked, full }) : undefined;
    }
    const firstDay = dayOf(Number(span.first));
    const lastDay = dayOf(Number(span.last));
    const built = await db
      .selectFrom("charts")
      .select((eb) => eb.fn.max("day").as("last"))
      .executeTakeFirst();
    // Days the data reached without new observations on them (a quiet day) still need charts.
    const viewsStale = Math.min(marks.from ?? Number.POSITIVE_INFINITY, built?.last == null ? firstDay : Number(built.last) + 1);
    const stale = Math.min(viewsStale, marks.recountFrom ?? Number.POSITIVE_INFINITY);
    if (!full && stale > lastDay) return report(started, { firstDay, lastDay });
    const fromDay = full ? firstDay : Math.max(firstDay, stale);
    const dayCount = lastDay - fromDay + 1;
    // Before this day only how stored views count changed (publications, recounted videos): the stored
    // views of those days stand. A build from the first day reads everything.
    const gainsFrom = fromDay === firstDay ? firstDay : Math.min(Math.max(fromDay, viewsStale), lastDay + 1);

    // Gains and publications from the first stale day on: for a full build on SQLite, on threads of
    // their own while this one reads the rest.
    progress({ stage: "reading", done: 0, total: 1 });
    const gainsRead = readVideoGains(database, { fromDay, gainsFrom, firstDay });
    gainsRead.catch(() => {}); // awaited below; a failure must not count as unhandled meanwhile
    // What the last ingest left in SQLite's write-ahead log goes into the file meanwhile, on a third thread.
    const checkpointed = checkpointInBackground(database);

    // Tags: names give the tie-break order, the catalog gives industries. Byte order of UTF-8 names:
    // SQLite's BINARY collation, walking the names' index; PostgreSQL's "C" collation.
    const tagIds: number[] = [];
    for await (const rows of streamRows(database, `select id from tags order by name${database.sqlite ? "" : ' collate "C"'}`)) {
      for (const [id] of rows as [number][]) tagIds.push(id);
    }
    const tagCount = tagIds.reduce((max, id) => Math.max(max, id), 0) + 1;
    const nameRank = new Int32Array(tagCount);
    tagIds.forEach((id, i) => (nameRank[id] = i));
    const industryOf = new Uint8Array(tagCount);
    const catalog = await db
      .selectFrom("hashtags")
      .innerJoin("tags", "tags.name", "hashtags.name")
      .select(["tags.id as tag", "hashtags.industry_id as industry"])
      .where("hashtags.industry_id", "is not", null)
      .execute();
    for (const row of catalog) industryOf[row.tag] = INDUSTRY_INDEX.get(Number(row.industry)) ?? 0;

    // The windows as the last build left them, on its last day: rolled back to the day before the stale
    // day, they spare adding up the longest window's days, unless rolling back reads more days.
    const saved =
      fromDay === firstDay
        ? undefined
        : await db
            .selectFrom("chart_windows")
            .select((eb) => [eb.fn.min("day").as("first"), eb.fn.max("day").as("last"), eb.fn.countAll().as("rows")])
            .executeTakeFirst();
    const savedDay = saved?.last == null ? undefined : Number(saved.last);
    const restore =
      savedDay !== undefined &&
      Number(saved!.first) === savedDay &&
      Number(saved!.rows) === CHART_REGIONS.length * PERIODS.length &&
      savedDay >= fromDay - 1 &&
      savedDay <= lastDay &&
      (savedDay - fromDay + 1) * (PERIODS.length + 1) < MAX_PERIOD;
    // The stored days the windows need, for the chart regions: the days slid out of them from the stale
    // day on, and either each window's days before the stale day or the days that roll the saved ones back.
    const neededDays: [from: number, to: number][] = PERIODS.map((period) => [fromDay - period, Math.min(lastDay - period, fromDay - 1)]);
    if (restore) {
      neededDays.push([fromDay, savedDay], ...PERIODS.map((period): [number, number] => [fromDay - period, savedDay - period]));
    } else {
      neededDays.push([fromDay - MAX_PERIOD, fromDay - 1]);
    }
    // By chart region, by day.
    const storedDays = CHART_REGIONS.map(() => new Map<number, RegionDay>());
    for (const [from, to] of mergeRanges(neededDays.map(([from, to]) => [Math.max(firstDay, from), to]))) {
      for (const [day, regions] of await readRegionDays(database, from, to + 1, CHART_REGIONS)) {
        for (const [region, data] of regions) storedDays[REGION_SLOT.get(region)!]!.set(day, data);
      }
    }
    // The stored days whose views stand, every region of them.
    const keptViews = await readRegionDays(database, fromDay, gainsFrom);
    // Per-day totals per country and for all regions.
    // Only the per-day totals outlive this block: the per-video arrays are the build's largest.
    const { regionKeys, newDays, observations } = await (async (): Promise<{
      regionKeys: string[];
      newDays: RegionDay[][];
      observations: number;
    }> => {
      const parts = await gainsRead;
      progress({ stage: "aggregating", done: 0, total: dayCount });
      const { regionKeys, days } = aggregateDays(parts, keptViews, fromDay, lastDay, tagCount, (day) =>
        progress({ stage: "aggregating", done: day - fromDay + 1, total: dayCount }),
      );
      return { regionKeys, newDays: days, observations: parts.reduce((n, part) => n + part.observations, 0) };
    })();

    // Each series' ranking on the day before the first recomputed one, and the first day of its tags.
    const previousRanked: Int32Array[] = Array.from({ length: SERIES_COUNT }, () => new Int32Array(0));
    const storedFirsts: Int32Array[] = Array.from({ length: SERIES_COUNT }, () => new Int32Array(0));
    const periodIndex = new Map<number, number>(PERIODS.map((p, i) => [p, i]));
    const industryIndex = new Map(CHART_INDUSTRIES.map((key, i) => [key, i]));
    const seriesOf = (region: string, period: number, industry: string) => {
      const slot = REGION_SLOT.get(region);
      const p = periodIndex.get(period);
      const i = industryIndex.get(industry);
      return slot === undefined || p === undefined || i === undefined ? undefined : seriesIndex(slot, p, i);
    };
    // With the saved windows rolled back, the stored days hold what the last build ranked the recomputed
    // days from, up to the saved day: its rankings of those days are a start for the new ones.
    const rankedBefore: EarlierChart[][] = restore ? Array.from({ length: savedDay - fromDay + 1 }, () => []) : [];
    const chartsRead = new Int32Array(rankedBefore.length);
    if (fromDay > firstDay) {
      for await (const rows of streamRows(
        database,
        "select day, region, period, industry, entries from charts where day >= ? and day <= ?",
        [fromDay - 1, fromDay - 1 + rankedBefore.length],
      )) {
        for (const [day, region, period, industry, blob] of rows as [number, string, number, string, Uint8Array][]) {
          const s = seriesOf(region, Number(period), industry);
          if (s === undefined) continue;
          const tags = decodeChartTags(blob);
          if (Number(day) < fromDay) previousRanked[s] = tags;
          else {
            rankedBefore[Number(day) - fromDay]![s] = { tags, entries: blob };
            chartsRead[Number(day) - fromDay]!++;
          }
        }
      }
      // A build stores every chart of its days: should one be missing, that day and those after it start over.
      const incomplete = chartsRead.findIndex((count) => count < SERIES_COUNT);
      if (incomplete >= 0) rankedBefore.length = incomplete;
      for await (const rows of streamRows(database, "select region, period, industry, firsts from chart_series")) {
        for (const [region, period, industry, blob] of rows as [string, number, string, Uint8Array][]) {
          const s = seriesOf(region, Number(period), industry);
          if (s !== undefined) storedFirsts[s] = decodeInts(blob);
        }
      }
    }
    // The windows as the last build left them, when they are restored.
    const savedWindows = CHART_REGIONS.map((): (RegionDay | undefined)[] => PERIODS.map(() => undefined));
    if (restore) {
      for await (const rows of streamRows(database, "select region, period, entries from chart_windows")) {
        for (const [region, period, blob] of rows as [string, number, Uint8Array][]) {
          const slot = REGION_SLOT.get(region);
          const p = periodIndex.get(Number(period));
          if (slot !== undefined && p !== undefined) savedWindows[slot]![p] = decodeRegionDay(blob);
        }
      }
    }

    // Slide every window across the stale days and rank each day's candidates, region by region.
    progress({ stage: "ranking", done: 0, total: CHART_REGIONS.length });
    let regionsRanked = 0;
    const slotRegionIndex = CHART_REGIONS.map((code) => regionKeys.indexOf(code));
    const { regions: ranked, threads: rankingThreads } = await rankRegionsInParallel(
      {
        fromDay,
        lastDay,
        firstDay,
        ...(restore ? { savedDay } : {}),
        nameRank,
        industryOf,
        regions: CHART_REGIONS.map((_, slot) => {
          const r = slotRegionIndex[slot]!;
          const series = <T>(list: T[]) => list.slice(seriesIndex(slot, 0, 0), seriesIndex(slot + 1, 0, 0));
          return {
            stored: storedDays[slot]!,
            recomputed: newDays.map((perRegion) => (r < 0 ? undefined : perRegion[r])),
            saved: savedWindows[slot]!,
            previous: series(previousRanked),
            firsts: series(storedFirsts),
            ...(restore ? { before: rankedBefore.map(series) } : {}),
          };
        }),
      },
      () => progress({ stage: "ranking", done: ++regionsRanked, total: CHART_REGIONS.length }),
    );
    // The recomputed days a ranking thread had are back.
    ranked.forEach((region, slot) => {
      const r = slotRegionIndex[slot]!;
      if (r >= 0) region.recomputed.forEach((day, d) => (newDays[d]![r] = day!));
    });
    const chartRows: unknown[][] = [];
    for (let d = 0; d < dayCount; d++) {
      ranked.forEach(({ entries, ends }, slot) => {
        for (let series = 0; series < SERIES_PER_SLOT; series++) {
          const chart = d * SERIES_PER_SLOT + series;
          const start = chart === 0 ? 0 : ends[chart - 1]!;
          const { period, industry } = seriesKey(seriesIndex(slot, 0, series));
          chartRows.push([
            fromDay + d,
            CHART_REGIONS[slot],
            period,
            industry,
            Buffer.from(entries.buffer, entries.byteOffset + start, ends[chart]! - start),
          ]);
        }
      });
    }

    // Series blocks from the stale day's block on, rewritten whole: that block's days before the stale day
    // come back from region_days, which holds the same numbers by day.
    progress({ stage: "writing", done: 0, total: 1 });
    const fromBlock = seriesBlock(fromDay);
    const seriesFrom = Math.max(firstDay, fromBlock * SERIES_BLOCK_DAYS);
    const seriesRegions = new CodeIndex(regionKeys);
    const seriesDays: RegionDay[][] = Array.from({ length: fromDay - seriesFrom }, () => []);
    for (const [day, regions] of await readRegionDays(database, seriesFrom, fromDay)) {
      for (const [region, data] of regions) seriesDays[day - seriesFrom]![seriesRegions.of(region)] = data;
    }
    seriesDays.push(...newDays);
    // Encoded as they are written: together they are as large as the days themselves.
    function* regionDayRows() {
      for (const [offset, perRegion] of newDays.entries()) {
        for (const [r, data] of perRegion.entries()) {
          if (data.tags.length > 0) yield [fromDay + offset, regionKeys[r], encodeRegionDay(data)];
        }
      }
    }
    const chartSeriesRows = ranked.flatMap(({ firsts }, slot) =>
      firsts.map((pairs, series) => {
        const { region, period, industry } = seriesKey(seriesIndex(slot, 0, series));
        return [region, period, industry, encodeInts(pairs)];
      }),
    );

    // Replace everything from the stale day on, in one transaction.
    const totalRows = chartRows.length + 2 * dayCount;
    progress({ stage: "writing", done: 0, total: totalRows });
    await checkpointed;
    const written = await writeUnlessSuperseded(async (writer) => {
      await finish(writer);
      // Without a condition, SQLite empties a table at once instead of row by row.
      const since = fromDay === firstDay ? "" : ` where day >= ${fromDay}`;
      await writer.exec(`delete from charts${since}`);
      await writer.exec(`delete from region_days${since}`);
      await writer.insert(
        "region_days",
        [
          ["day", "int4"],
          ["region", "text"],
          ["entries", "bytea"],
        ],
        regionDayRows(),
      );
      progress({ stage: "writing", done: dayCount, total: totalRows });
      await writer.exec(fromDay === firstDay ? "delete from tag_series" : `delete from tag_series where block >= ${fromBlock}`);
      let written = dayCount;
      for (const { rows, days } of seriesBlockRows(seriesDays, seriesFrom, seriesRegions.codes, tagCount)) {
        await writer.insert(
          "tag_series",
          [
            ["block", "int4"],
            ["tag", "int4"],
            ["region", "text"],
            ["days", "bytea"],
          ],
          rows,
        );
        progress({ stage: "writing", done: (written += days), total: totalRows });
      }
      await writer.insert(
        "charts",
        [
          ["day", "int4"],
          ["region", "text"],
          ["period", "int4"],
          ["industry", "text"],
          ["entries", "bytea"],
        ],
        chartRows,
      );
      // The windows now end on the last day.
      await writer.exec("delete from chart_windows");
      await writer.insert(
        "chart_windows",
        [
          ["region", "text"],
          ["period", "int4"],
          ["day", "int4"],
          ["entries", "bytea"],
        ],
        (function* () {
          for (const [slot, region] of CHART_REGIONS.entries()) {
            for (const [p, period] of PERIODS.entries()) yield [region, period, lastDay, encodeRegionDay(ranked[slot]!.windows[p]!)];
          }
        })(),
      );
      await writer.exec("delete from chart_series");
      await writer.insert(
        "chart_series",
        [
          ["region", "text"],
          ["period", "int4"],
          ["industry", "text"],
          ["firsts", "bytea"],
        ],
        chartSeriesRows,
      );
      progress({ stage: "writing", done: totalRows, total: totalRows });
    });

    if (!written) return undefined;
    stages[stage!] = (stages[stage!] ?? 0) + (performance.now() - stageStarted) / 1000;
    return report(started, {
      stages,
      rankingThreads,
      built: true,
      full,
      firstDay,
      lastDay,
      fromDay,
      days: dayCount,
      charts: chartRows.length,
      observations,
    });
  }
}

/** Inclusive day ranges, empty ones dropped, merged where they overlap or touch, in order. */
function mergeRanges(ranges: readonly (readonly [number, number])[]): [number, number][] {
  const merged: [number, number][] = [];
  for (const [from, to] of ranges.filter(([from, to]) => from <= to).sort((a, b) => a[0] - b[0])) {
    const last = merged[merged.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged;
}

/** Stored days in [from, to), each as its regions' (code, totals) pairs; only `regions` when given. */
async function readRegionDays(
  database: Database,
  from: number,
  to: number,
  regions?: readonly string[],
): Promise<Map<number, [string, RegionDay][]>> {
  const days = new Map<number, [string, RegionDay][]>();
  if (from >= to) return days;
  const only = regions ? ` and region in (${regions.map(() => "?").join(", ")})` : "";
  for await (const rows of streamRows(database, `select day, region, entries from region_days where day >= ? and day < ?${only}`, [
    from,
    to,
    ...(regions ?? []),
  ])) {
    for (const [day, region, blob] of rows as [number, string, Uint8Array][]) {
      let list = days.get(Number(day));
      if (!list) days.set(Number(day), (list = []));
      list.push([region, decodeRegionDay(blob)]);
    }
  }
  return days;
}

/**
 * Sums the gains and publications of each day from `fromDay` on, per country and for all regions,
 * over gains read in parts: `days[day - fromDay][region index]`, the region index being the country's
 * in `regionKeys`, or the last one for all regions. The views of `keptViews`' days (stored days, by
 * region code) are taken as they are, with the publications of the parts.
 */
function aggregateDays(
  parts: readonly VideoGains[],
  keptViews: ReadonlyMap<number, readonly [string, RegionDay][]>,
  fromDay: number,
  lastDay: number,
  tagCount: number,
  onDay: (day: number) => void,
): { regionKeys: string[]; days: RegionDay[][] } {
  const dayCount = lastDay - fromDay + 1;
  const countries = new CodeIndex();
  const remaps = parts.map((part) => Int32Array.from(part.countries, (code) => countries.of(code)));
  for (const regions of keptViews.values()) for (const [region] of regions) if (region !== ALL_REGIONS) countries.of(region);
  const all = countries.codes.length;
  // Each part's gains and new videos bucketed by day (a counting sort).
  const buckets = parts.map((gains) => {
    const gainStart = new Int32Array(dayCount + 1);
    for (const day of gains.gainDay) if (day >= fromDay && day <= lastDay) gainStart[day - fromDay + 1]!++;
    for (let d = 0; d < dayCount; d++) gainStart[d + 1]! += gainStart[d]!;
    const gainOrder = new Int32Array(gainStart[dayCount]!);
    const fill = gainStart.slice(0, dayCount);
    gains.gainDay.forEach((day, i) => {
      if (day >= fromDay && day <= lastDay) gainOrder[fill[day - fromDay]!++] = i;
    });
    const created = new Map<number, number[]>();
    for (let v = 0; v < gains.videoCount; v++) {
      const day = gains.videoCreateDay[v]!;
      if (day < fromDay || day > lastDay) continue;
      const list = created.get(day);
      if (list) list.push(v);
      else created.set(day, [v]);
    }
    return { gainStart, gainOrder, created };
  });

  const views = new Float64Array((all + 1) * tagCount);
  const pubs = new Int32Array((all + 1) * tagCount);
  // The cells the day changed: a recounted video's negative gains can bring one back to zero. Read back in
  // cell order, region by region and tag by tag: a pass over the day's table costs less than a sort.
  const touched = new Uint8Array((all + 1) * tagCount);
  const regionTags = new Int32Array(tagCount);
  const world = all * tagCount;
  const add = (part: VideoGains, remap: Int32Array, v: number, amount: number, target: Float64Array | Int32Array) => {
    const country = remap[part.videoCountry[v]!]! * tagCount;
    for (let i = part.videoTagStart[v]!; i < part.videoTagStart[v + 1]!; i++) {
      const tag = part.videoTags[i]!;
      let cell = country + tag;
      touched[cell] = 1;
      target[cell] = target[cell]! + amount;
      cell = world + tag;
      touched[cell] = 1;
      target[cell] = target[cell]! + amount;
    }
  };
  const days: RegionDay[][] = [];
  for (let d = 0; d < dayCount; d++) {
    for (const [region, data] of keptViews.get(fromDay + d) ?? []) {
      const row = (region === ALL_REGIONS ? all : countries.of(region)) * tagCount;
      for (let i = 0; i < data.tags.length; i++) {
        const cell = row + data.tags[i]!;
        touched[cell] = 1;
        views[cell] = views[cell]! + data.views[i]!;
      }
    }
    parts.forEach((part, p) => {
      const { gainStart, gainOrder, created } = buckets[p]!;
      const remap = remaps[p]!;
      for (let k = gainStart[d]!; k < gainStart[d + 1]!; k++) {
        const i = gainOrder[k]!;
        add(part, remap, part.gainVideo[i]!, part.gainViews[i]!, views);
      }
      for (const v of created.get(fromDay + d) ?? []) add(part, remap, v, 1, pubs);
    });
    // Cells left with neither views nor publications are not part of the day.
    const perRegion: RegionDay[] = [];
    for (let r = 0; r <= all; r++) {
      const row = r * tagCount;
      let n = 0;
      for (let tag = 0; tag < tagCount; tag++) {
        const cell = row + tag;
        if (touched[cell] === 0) continue;
        touched[cell] = 0;
        if (views[cell] !== 0 || pubs[cell] !== 0) regionTags[n++] = tag;
      }
      const day: RegionDay = { tags: regionTags.slice(0, n), views: new Float64Array(n), pubs: new Int32Array(n) };
      for (let i = 0; i < n; i++) {
        const cell = row + day.tags[i]!;
        day.views[i] = views[cell]!;
        day.pubs[i] = pubs[cell]!;
        views[cell] = 0;
        pubs[cell] = 0;
      }
      perRegion.push(day);
    }
    days.push(perRegion);
    onDay(fromDay + d);
  }
  return { regionKeys: [...countries.codes, ALL_REGIONS], days };
}

/**
 * `tag_series` rows, block by block, of every day from `fromDay` on (`days` has a day per index, its
 * regions by their index in `regions`; a region may be missing), in key order (tag, then region code)
 * so that they are appended to the table's B-tree rather than scattered in it. Each series is a cell of
 * a table by tag and region, laid out in that order: counting its days, then filling them in, needs
 * neither a map nor a sort.
 */
function* seriesBlockRows(
  days: readonly RegionDay[][],
  fromDay: number,
  regions: readonly string[],
  tagCount: number,
): Generator<{ rows: Iterable<unknown[]>; days: number }> {
  const lastDay = fromDay + days.length - 1;
  const regionCount = regions.length;
  // Region codes are ASCII, where string order is byte order.
  const byCode = [...regions.keys()].sort((a, b) => (regions[a]! < regions[b]! ? -1 : regions[a]! > regions[b]! ? 1 : 0));
  const column = new Int32Array(regionCount);
  byCode.forEach((r, k) => (column[r] = k));
  const eachEntry = (first: number, last: number, visit: (cell: number, data: RegionDay, i: number, day: number) => void) => {
    for (let day = first; day <= last; day++) {
      days[day - fromDay]!.forEach((data, r) => {
        const k = column[r]!;
        for (let i = 0; i < data.tags.length; i++) visit(data.tags[i]! * regionCount + k, data, i, day);
      });
    }
  };
  for (let block = seriesBlock(fromDay); block <= seriesBlock(lastDay); block++) {
    const first = Math.max(fromDay, block * SERIES_BLOCK_DAYS);
    const last = Math.min(lastDay, (block + 1) * SERIES_BLOCK_DAYS - 1);
    // Two passes over the block's days: count each series' days, then fill them in place. Tables of the
    // block's own: its rows are encoded from them lazily, by whoever writes them, whenever that is.
    const counts = new Int32Array(tagCount * regionCount);
    const ends = new Int32Array(counts.length);
    eachEntry(first, last, (cell) => counts[cell]!++);
    let entries = 0;
    for (let cell = 0; cell < counts.length; cell++) {
      ends[cell] = entries;
      entries += counts[cell]!;
    }
    const seriesDays = new Int32Array(entries);
    const views = new Float64Array(entries);
    const pubs = new Int32Array(entries);
    eachEntry(first, last, (cell, data, i, day) => {
      const at = ends[cell]!++;
      seriesDays[at] = day;
      views[at] = data.views[i]!;
      pubs[at] = data.pubs[i]!;
    });
    // Encoded as they are written.
    const rows = (function* () {
      for (let cell = 0; cell < counts.length; cell++) {
        if (counts[cell] === 0) continue;
        const to = ends[cell]!;
        const from = to - counts[cell]!;
        const region = regions[byCode[cell % regionCount]!]!;
        yield [
          block,
          Math.floor(cell / regionCount),
          region,
          encodeDaySeries(seriesDays.subarray(from, to), views.subarray(from, to), pubs.subarray(from, to)),
        ];
      }
    })();
    yield { rows, days: last - first + 1 };
  }
}

function report(started: number, fields: Partial<BuildReport>): BuildReport {
  return {
    built: false,
    full: false,
    firstDay: null,
    lastDay: null,
    fromDay: null,
    days: 0,
    charts: 0,
    observations: 0,
    ...fields,
    seconds: (performance.now() - started) / 1000,
  };
}
