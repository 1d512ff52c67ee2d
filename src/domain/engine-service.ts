import { streamRows } from "../db/bulk.js";
import type { Database } from "../db/database.js";
import { dayOf } from "../lib/days.js";
import { CodeIndex } from "../lib/code-index.js";
import { CHART_INDUSTRIES, CHART_REGIONS, PERIODS, SERIES_COUNT, seriesIndex } from "./chart-model.js";
import { GENERATION_KEY, readCounter, readStaleMarks } from "./engine-state.js";
import { TagpulseError } from "../lib/errors.js";
import { ALL_REGIONS, INDUSTRIES } from "./reference-data.js";
import { readVideoGains, type VideoGains } from "./engine-gains.js";
import { decodeChartTags, decodeInts, decodeRegionDay, seriesBlock, SERIES_BLOCK_DAYS, type RegionDay } from "./series-codec.js";
import { rankRegionsInParallel, SECOND_THREAD_DAYS, type EarlierChart } from "./chart-ranking.js";
import { createBuildWrites, writeUnlessSuperseded, type BuildWrites, type DaysWrite } from "./build-writes.js";

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

const REGION_SLOT = new Map(CHART_REGIONS.map((code, slot) => [code, slot]));
const INDUSTRY_INDEX = new Map(INDUSTRIES.map((industry, i) => [industry.id, i + 1]));
const MAX_PERIOD = PERIODS[PERIODS.length - 1]!;
/**
 * The trend engine: turns stored observations into per-tag daily series (`tag_series`) and the ranked
 * membership of every chart (`charts`, `chart_series`), as docs/charts.md defines them. A build
 * recomputes everything from the first stale day on and keeps what came before.
 */
export function createEngineService(deps: { database: Database }): EngineService {
  const database = deps.database;
  const { db } = database;
  // Builds of one process run one after another: a PostgreSQL build holds a connection of the pool
  // for its write transaction from the start, and builds waiting on one another's rows would each hold
  // one too, until none was left for the first one's reads.
  let previous: Promise<unknown> = Promise.resolve();

  return {
    build(options = {}) {
      const built = previous.then(() => buildAttempts(options));
      previous = built.catch(() => undefined);
      return built;
    },
  };

  /** A build, tried again while ingests commit during it. */
  async function buildAttempts(options: Parameters<EngineService["build"]>[0]): Promise<BuildReport> {
    for (let attempt = 1; ; attempt++) {
      const writes = createBuildWrites(database);
      let report: BuildReport | undefined;
      try {
        report = await buildOnce(writes, options);
      } finally {
        await writes.settle();
      }
      if (report) return report;
      if (attempt === BUILD_ATTEMPTS) {
        throw new TagpulseError(
          "unavailable",
          `the charts were not built: ingest changed the data during each of ${BUILD_ATTEMPTS} attempts; run the build again`,
        );
      }
    }
  }

  /** One build, or undefined when an ingest committed while it read: then it wrote nothing. */
  async function buildOnce(writes: BuildWrites, options: Parameters<EngineService["build"]>[0] = {}): Promise<BuildReport | undefined> {
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
    const full = options.full === true;
    if (span?.first == null || span.last == null) {
      const written = await writeUnlessSuperseded(database, generation, async (writer) => {
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
    // The thread that will write, if any, starts now. A short build begins its write transaction now too:
    // on PostgreSQL, it clears what the build replaces while the build reads. A long one, run compiled,
    // ranks on both cores, and begins it once the ranking is done.
    const scope = { firstDay, fromDay };
    writes.prepare();
    const early = dayCount < SECOND_THREAD_DAYS ? writes.begin(generation, scope) : undefined;
    // Tags: names give the tie-break order, the catalog gives industries. Byte order of UTF-8 names:
    // SQLite's BINARY collation, walking the names' index; PostgreSQL's "C" collation.
    const tagIds: number[] = [];
    for await (const rows of streamRows(
      database,
      `select id from tags order by name${database.sqlite ? "" : ' collate "C"'}`,
      [],
      ["int4"],
    )) {
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

    // Series blocks from the stale day's block on are rewritten whole: that block's days before the stale
    // day come back from region_days, which holds the same numbers by day.
    const seriesFrom = Math.max(firstDay, seriesBlock(fromDay) * SERIES_BLOCK_DAYS);
    const seriesRegions = new CodeIndex(regionKeys);
    const seriesStored: RegionDay[][] = Array.from({ length: fromDay - seriesFrom }, () => []);
    for (const [day, regions] of await readRegionDays(database, seriesFrom, fromDay)) {
      for (const [region, data] of regions) seriesStored[day - seriesFrom]![seriesRegions.of(region)] = data;
    }
    const daysWrite = (): DaysWrite => ({
      ...scope,
      days: newDays,
      regions: seriesRegions.codes,
      storedDays: seriesStored,
      seriesFrom,
      tagCount,
    });
    // A short build's days are handed over now, to be written while the build reads and ranks (on the
    // build's own SQLite connection, once it has ranked): a writing thread gets a copy, as the ranking
    // reads them too. A long one's ranking thread takes some of the days away meanwhile: they are
    // written once they are back.
    early?.days(daysWrite());

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
        ["int4", "text", "int4", "text", "bytea"],
      )) {
        for (const [day, region, period, industry, blob] of rows as [number, string, number, string, Uint8Array][]) {
          const s = seriesOf(region, period, industry);
          if (s === undefined) continue;
          const tags = decodeChartTags(blob);
          if (day < fromDay) previousRanked[s] = tags;
          else {
            rankedBefore[day - fromDay]![s] = { tags, entries: blob };
            chartsRead[day - fromDay]!++;
          }
        }
      }
      // A build stores every chart of its days: should one be missing, that day and those after it start over.
      const incomplete = chartsRead.findIndex((count) => count < SERIES_COUNT);
      if (incomplete >= 0) rankedBefore.length = incomplete;
      for await (const rows of streamRows(
        database,
        "select region, period, industry, firsts from chart_series",
        [],
        ["text", "int4", "text", "bytea"],
      )) {
        for (const [region, period, industry, blob] of rows as [string, number, string, Uint8Array][]) {
          const s = seriesOf(region, period, industry);
          if (s !== undefined) storedFirsts[s] = decodeInts(blob);
        }
      }
    }
    // The windows as the last build left them, when they are restored.
    const savedWindows = CHART_REGIONS.map((): (RegionDay | undefined)[] => PERIODS.map(() => undefined));
    if (restore) {
      for await (const rows of streamRows(database, "select region, period, entries from chart_windows", [], ["text", "int4", "bytea"])) {
        for (const [region, period, blob] of rows as [string, number, Uint8Array][]) {
          const slot = REGION_SLOT.get(region);
          const p = periodIndex.get(period);
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

    // Everything from the stale day on is replaced in one transaction.
    progress({ stage: "writing", done: 0, total: 1 });
    let write = early;
    if (!write) {
      write = writes.begin(generation, scope);
      write.days(daysWrite(), { transfer: true });
    }
    const written = await write.charts({ fromDay, lastDay, ranked });
    progress({ stage: "writing", done: 1, total: 1 });
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
      charts: dayCount * SERIES_COUNT,
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
  for await (const rows of streamRows(
    database,
    `select day, region, entries from region_days where day >= ? and day < ?${only}`,
    [from, to, ...(regions ?? [])],
    ["int4", "text", "bytea"],
  )) {
    for (const [day, region, blob] of rows as [number, string, Uint8Array][]) {
      let list = days.get(day);
      if (!list) days.set(day, (list = []));
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
