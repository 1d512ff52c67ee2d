import { streamRows, withBulkWriter } from "../db/bulk.js";
import type { Database } from "../db/database.js";
import { dayOf, dayStart } from "../lib/days.js";
import { GrowableFloat64, GrowableInt32 } from "../lib/growable.js";
import { chunks, compareUtf8 } from "../lib/order.js";
import { ALL_REGIONS_SLOT, CHART_INDUSTRIES, CHART_REGIONS, CHART_SIZE, PERIODS } from "./chart-model.js";
import { readDirtyFrom } from "./engine-state.js";
import { ALL_REGIONS, INDUSTRIES } from "./reference-data.js";
import { decodeDaySeries, decodeInts, encodeDaySeries, encodeInts } from "./series-codec.js";
import { TopK } from "./top-k.js";

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

/** One day's views and publish counts of the tags of one region. */
interface RegionDay {
  tags: number[];
  views: number[];
  pubs: number[];
}

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
      const started = performance.now();
      const progress = options.onProgress ?? (() => {});
      const span = await db
        .selectFrom("observations")
        .select((eb) => [eb.fn.min("observed_at").as("first"), eb.fn.max("observed_at").as("last")])
        .executeTakeFirst();
      const dirty = await readDirtyFrom(db);
      const full = options.full === true;
      if (span?.first == null || span.last == null) {
        await withBulkWriter(database, async (writer) => {
          for (const table of ["charts", "chart_series", "tag_series"]) await writer.exec(`delete from ${table}`);
          if (dirty !== null) await writer.exec("delete from engine_state where key = 'dirty_from'");
        });
        return report(started, { built: dirty !== null, full });
      }
      const firstDay = dayOf(Number(span.first));
      const lastDay = dayOf(Number(span.last));
      const built = await db.selectFrom("charts").select((eb) => eb.fn.max("day").as("last")).executeTakeFirst();
      // Days the data reached without new observations on them (a quiet day) still need charts.
      const stale = Math.min(dirty ?? Number.POSITIVE_INFINITY, built?.last == null ? firstDay : Number(built.last) + 1);
      if (!full && stale > lastDay) return report(started, { firstDay, lastDay });
      const fromDay = full ? firstDay : Math.max(firstDay, stale);
      const dayCount = lastDay - fromDay + 1;

      // Tags: names give the tie-break order, the catalog gives industries.
      const tagRows = await db.selectFrom("tags").select(["id", "name"]).execute();
      const tagCount = tagRows.reduce((max, r) => Math.max(max, r.id), 0) + 1;
      const nameRank = new Int32Array(tagCount);
      tagRows
        .sort((a, b) => compareUtf8(a.name, b.name))
        .forEach((row, i) => {
          nameRank[row.id] = i;
        });
      const industryOf = new Uint8Array(tagCount);
      const catalog = await db
        .selectFrom("hashtags")
        .innerJoin("tags", "tags.name", "hashtags.name")
        .select(["tags.id as tag", "hashtags.industry_id as industry"])
        .where("hashtags.industry_id", "is not", null)
        .execute();
      for (const row of catalog) industryOf[row.tag] = INDUSTRY_INDEX.get(Number(row.industry)) ?? 0;

      // Observations from the first stale day on, in time order.
      progress({ stage: "reading", done: 0, total: 1 });
      const fromSecond = dayStart(fromDay);
      const videoIndex = new Map<string, number>();
      const obsVideo = new GrowableInt32();
      const obsTime = new GrowableFloat64();
      const obsViews = new GrowableFloat64();
      for await (const rows of streamRows(
        database,
        "select video_id, observed_at, view_count from observations where observed_at >= ? order by observed_at, video_id",
        [fromSecond],
      )) {
        for (const [id, at, views] of rows as [string, number | string, number | string][]) {
          let v = videoIndex.get(id);
          if (v === undefined) {
            v = videoIndex.size;
            videoIndex.set(id, v);
          }
          obsVideo.push(v);
          obsTime.push(Number(at));
          obsViews.push(Number(views));
        }
      }
      const videoCount = videoIndex.size;

      // Those videos' attributes, and the highest view count each reached before the stale day.
      const countries: string[] = [];
      const countryIndex = new Map<string, number>();
      const videoCountry = new Int32Array(videoCount);
      const videoCreateDay = new Float64Array(videoCount);
      const tagLists: Int32Array[] = new Array(videoCount);
      const highest = new Float64Array(videoCount);
      const readAttributes = ([id, createTime, region, tags]: [string, number | string, string, string]) => {
        const v = videoIndex.get(id);
        if (v === undefined) return;
        let c = countryIndex.get(region);
        if (c === undefined) {
          c = countries.length;
          countries.push(region);
          countryIndex.set(region, c);
        }
        videoCountry[v] = c;
        videoCreateDay[v] = dayOf(Number(createTime));
        tagLists[v] = tags === "" ? new Int32Array(0) : Int32Array.from(tags.split(","), Number);
      };
      if (fromDay === firstDay) {
        for await (const rows of streamRows(database, "select video_id, create_time, region, tags from videos")) {
          for (const row of rows) readAttributes(row as [string, number, string, string]);
        }
      } else {
        for (const part of chunks([...videoIndex.keys()], 10_000)) {
          const marks = part.map(() => "?").join(", ");
          for await (const rows of streamRows(database, `select video_id, create_time, region, tags from videos where video_id in (${marks})`, part)) {
            for (const row of rows) readAttributes(row as [string, number, string, string]);
          }
          for await (const rows of streamRows(
            database,
            `select video_id, max(view_count) from observations where video_id in (${marks}) and observed_at < ? group by video_id`,
            [...part, fromSecond],
          )) {
            for (const [id, max] of rows as [string, number | string][]) highest[videoIndex.get(id)!] = Number(max);
          }
        }
      }

      // Per-day aggregates from the stale day on, per country and for all regions together.
      progress({ stage: "aggregating", done: 0, total: dayCount });
      const regionKeys = [...countries, ALL_REGIONS];
      const allIndex = countries.length;
      const views = new Float64Array(regionKeys.length * tagCount);
      const pubs = new Int32Array(regionKeys.length * tagCount);
      const touched = new GrowableInt32();
      const createdOn = new Map<number, number[]>();
      for (let v = 0; v < videoCount; v++) {
        const day = videoCreateDay[v]!;
        if (day < fromDay || day > lastDay) continue;
        const list = createdOn.get(day);
        if (list) list.push(v);
        else createdOn.set(day, [v]);
      }
      const add = (v: number, amount: number, target: Float64Array | Int32Array) => {
        const tags = tagLists[v]!;
        for (const base of [videoCountry[v]! * tagCount, allIndex * tagCount]) {
          for (let i = 0; i < tags.length; i++) {
            const cell = base + tags[i]!;
            if (views[cell] === 0 && pubs[cell] === 0) touched.push(cell);
            target[cell] = target[cell]! + amount;
          }
        }
      };
      const time = obsTime.view();
      const seen = obsViews.view();
      const observed = obsVideo.view();
      // newDays[day - fromDay][regionIndex] holds that day's tags in that region.
      const newDays: RegionDay[][] = [];
      let cursor = 0;
      for (let day = fromDay; day <= lastDay; day++) {
        const dayEnd = dayStart(day + 1);
        for (; cursor < time.length && time[cursor]! < dayEnd; cursor++) {
          const v = observed[cursor]!;
          const gain = seen[cursor]! - highest[v]!;
          if (gain <= 0) continue;
          highest[v] = seen[cursor]!;
          add(v, gain, views);
        }
        for (const v of createdOn.get(day) ?? []) add(v, 1, pubs);
        const perRegion: RegionDay[] = regionKeys.map(() => ({ tags: [], views: [], pubs: [] }));
        const cells = touched.view().slice().sort();
        touched.length = 0;
        for (const cell of cells) {
          const target = perRegion[Math.floor(cell / tagCount)]!;
          target.tags.push(cell % tagCount);
          target.views.push(views[cell]!);
          target.pubs.push(pubs[cell]!);
          views[cell] = 0;
          pubs[cell] = 0;
        }
        newDays.push(perRegion);
        progress({ stage: "aggregating", done: day - fromDay + 1, total: dayCount });
      }

      // Stored series: days before the stale day are kept, later ones replaced.
      const windowStartDay = Math.max(firstDay, fromDay - MAX_PERIOD + 1);
      const oldDays = new Map<number, RegionDay[]>();
      const storedSeries: { tag: number; region: string; kept: number; days: Int32Array; views: Float64Array; pubs: Int32Array }[] = [];
      if (fromDay > firstDay) {
        for await (const rows of streamRows(database, "select tag, region, days from tag_series")) {
          for (const [tag, region, blob] of rows as [number, string, Uint8Array][]) {
            const series = decodeDaySeries(blob);
            let kept = 0;
            while (kept < series.days.length && series.days[kept]! < fromDay) kept++;
            storedSeries.push({ tag, region, kept, ...series });
            const slot = REGION_SLOT.get(region);
            if (slot === undefined) continue;
            for (let i = kept - 1; i >= 0 && series.days[i]! >= windowStartDay; i--) {
              const day = series.days[i]!;
              let perSlot = oldDays.get(day);
              if (!perSlot) oldDays.set(day, (perSlot = CHART_REGIONS.map(() => ({ tags: [], views: [], pubs: [] }))));
              perSlot[slot]!.tags.push(tag);
              perSlot[slot]!.views.push(series.views[i]!);
              perSlot[slot]!.pubs.push(series.pubs[i]!);
            }
          }
        }
      }
      const slotRegionIndex = CHART_REGIONS.map((code) => (code === ALL_REGIONS ? allIndex : (countryIndex.get(code) ?? -1)));
      const slotDay = (day: number, slot: number): RegionDay | undefined => {
        if (day >= fromDay) {
          const r = slotRegionIndex[slot]!;
          return r < 0 ? undefined : newDays[day - fromDay]![r];
        }
        return oldDays.get(day)?.[slot];
      };

      // Previous day's ranks and the first day of every tag in each chart series.
      const previousRanks: Map<number, number>[] = Array.from({ length: SERIES_COUNT }, () => new Map());
      const firsts: Map<number, number>[] = Array.from({ length: SERIES_COUNT }, () => new Map());
      const periodIndex = new Map<number, number>(PERIODS.map((p, i) => [p, i]));
      const industryIndex = new Map(CHART_INDUSTRIES.map((key, i) => [key, i]));
      const seriesOf = (region: string, period: number, industry: string) => {
        const slot = REGION_SLOT.get(region);
        const p = periodIndex.get(period);
        const i = industryIndex.get(industry);
        return slot === undefined || p === undefined || i === undefined ? undefined : seriesIndex(slot, p, i);
      };
      if (fromDay > firstDay) {
        for await (const rows of streamRows(database, "select region, period, industry, entries from charts where day = ?", [fromDay - 1])) {
          for (const [region, period, industry, blob] of rows as [string, number, string, Uint8Array][]) {
            const s = seriesOf(region, Number(period), industry);
            if (s === undefined) continue;
            const entries = decodeInts(blob);
            for (let i = 0; i < entries.length; i += 3) previousRanks[s]!.set(entries[i]!, i / 3 + 1);
          }
        }
        for await (const rows of streamRows(database, "select region, period, industry, firsts from chart_series")) {
          for (const [region, period, industry, blob] of rows as [string, number, string, Uint8Array][]) {
            const s = seriesOf(region, Number(period), industry);
            if (s === undefined) continue;
            const pairs = decodeInts(blob);
            for (let i = 0; i < pairs.length; i += 2) if (pairs[i + 1]! < fromDay) firsts[s]!.set(pairs[i]!, pairs[i + 1]!);
          }
        }
      }

      // Slide every window across the stale days and rank each day's candidates.
      progress({ stage: "ranking", done: 0, total: dayCount });
      const chartRows: unknown[][] = [];
      const windows = CHART_REGIONS.map(() => PERIODS.map(() => new SlidingWindow(tagCount)));
      CHART_REGIONS.forEach((_, slot) => {
        PERIODS.forEach((period, p) => {
          for (let day = Math.max(firstDay, fromDay - period + 1); day < fromDay; day++) {
            const data = slotDay(day, slot);
            if (data) windows[slot]![p]!.add(data);
          }
        });
      });
      let activeViews: Float64Array = new Float64Array(0);
      let activePubs: Int32Array = new Int32Array(0);
      const better = (a: number, b: number) =>
        activeViews[a]! > activeViews[b]! ||
        (activeViews[a] === activeViews[b] &&
          (activePubs[a]! > activePubs[b]! || (activePubs[a] === activePubs[b] && nameRank[a]! < nameRank[b]!)));
      const selectors = CHART_INDUSTRIES.map(() => new TopK(CHART_SIZE, better));
      for (let day = fromDay; day <= lastDay; day++) {
        for (let slot = 0; slot < CHART_REGIONS.length; slot++) {
          for (let p = 0; p < PERIODS.length; p++) {
            const period = PERIODS[p]!;
            const window = windows[slot]![p]!;
            const entering = slotDay(day, slot);
            if (entering) window.add(entering);
            const leaving = day - period >= firstDay ? slotDay(day - period, slot) : undefined;
            if (leaving) window.remove(leaving);
            activeViews = window.views;
            activePubs = window.pubs;
            for (const selector of selectors) selector.reset();
            for (const tag of window.candidates()) {
              selectors[0]!.offer(tag);
              const industry = industryOf[tag]!;
              if (industry !== 0) selectors[industry]!.offer(tag);
            }
            for (let i = 0; i < selectors.length; i++) {
              const ranked = selectors[i]!.sorted();
              const s = seriesIndex(slot, p, i);
              const previous = previousRanks[s]!;
              const first = firsts[s]!;
              const entries = new Int32Array(ranked.length * 3);
              ranked.forEach((tag, r) => {
                if (!first.has(tag)) first.set(tag, day);
                entries[r * 3] = tag;
                entries[r * 3 + 1] = previous.get(tag) ?? 0;
                entries[r * 3 + 2] = first.get(tag) === day ? 1 : 0;
              });
              previous.clear();
              ranked.forEach((tag, r) => previous.set(tag, r + 1));
              chartRows.push([day, CHART_REGIONS[slot], period, CHART_INDUSTRIES[i], encodeInts(entries)]);
            }
          }
        }
        progress({ stage: "ranking", done: day - fromDay + 1, total: dayCount });
      }

      // Series rows: what was kept before the stale day, then the recomputed days.
      const additions = new Map<string, { days: number[]; views: number[]; pubs: number[] }>();
      newDays.forEach((perRegion, offset) => {
        perRegion.forEach((data, r) => {
          for (let i = 0; i < data.tags.length; i++) {
            const key = `${data.tags[i]}|${regionKeys[r]}`;
            let target = additions.get(key);
            if (!target) additions.set(key, (target = { days: [], views: [], pubs: [] }));
            target.days.push(fromDay + offset);
            target.views.push(data.views[i]!);
            target.pubs.push(data.pubs[i]!);
          }
        });
      });
      const seriesRows: unknown[][] = [];
      const emptied: [number, string][] = [];
      for (const stored of storedSeries) {
        const key = `${stored.tag}|${stored.region}`;
        const added = additions.get(key);
        additions.delete(key);
        if (!added && stored.kept === stored.days.length) continue;
        if (!added && stored.kept === 0) {
          emptied.push([stored.tag, stored.region]);
          continue;
        }
        const days = [...stored.days.subarray(0, stored.kept), ...(added?.days ?? [])];
        const views = [...stored.views.subarray(0, stored.kept), ...(added?.views ?? [])];
        const pubs = [...stored.pubs.subarray(0, stored.kept), ...(added?.pubs ?? [])];
        seriesRows.push([stored.tag, stored.region, encodeDaySeries(days, views, pubs)]);
      }
      for (const [key, added] of additions) {
        const split = key.indexOf("|");
        seriesRows.push([Number(key.slice(0, split)), key.slice(split + 1), encodeDaySeries(added.days, added.views, added.pubs)]);
      }
      const chartSeriesRows = firsts.map((first, s) => {
        const { region, period, industry } = seriesKey(s);
        const pairs: number[] = [];
        for (const [tag, day] of first) pairs.push(tag, day);
        return [region, period, industry, encodeInts(pairs)];
      });

      // Replace everything from the stale day on, in one transaction.
      const totalRows = seriesRows.length + chartRows.length;
      progress({ stage: "writing", done: 0, total: totalRows });
      await withBulkWriter(database, async (writer) => {
        await writer.exec("delete from charts where day >= ?", [fromDay]);
        if (fromDay === firstDay) await writer.exec("delete from tag_series");
        for (const part of chunks(emptied, 500)) {
          await writer.exec(`delete from tag_series where ${part.map(() => "(tag = ? and region = ?)").join(" or ")}`, part.flat());
        }
        await writer.insert(
          "tag_series",
          [
            ["tag", "int4"],
            ["region", "text"],
            ["days", "bytea"],
          ],
          seriesRows,
          "on conflict (tag, region) do update set days = excluded.days",
        );
        progress({ stage: "writing", done: seriesRows.length, total: totalRows });
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
        if (dirty !== null) await writer.exec("delete from engine_state where key = 'dirty_from' and value = ?", [String(dirty)]);
        progress({ stage: "writing", done: totalRows, total: totalRows });
      });

      return report(started, {
        built: true,
        full,
        firstDay,
        lastDay,
        fromDay,
        days: dayCount,
        charts: chartRows.length,
        observations: time.length,
      });
    },
  };
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

/** Window sums of views and publish counts per tag, and the tags whose window views are positive. */
class SlidingWindow {
  readonly views: Float64Array;
  readonly pubs: Int32Array;
  private active: number[] = [];
  private readonly listed: Uint8Array;

  constructor(tagCount: number) {
    this.views = new Float64Array(tagCount);
    this.pubs = new Int32Array(tagCount);
    this.listed = new Uint8Array(tagCount);
  }

  add(day: RegionDay): void {
    for (let i = 0; i < day.tags.length; i++) {
      const tag = day.tags[i]!;
      this.views[tag] = this.views[tag]! + day.views[i]!;
      this.pubs[tag] = this.pubs[tag]! + day.pubs[i]!;
      if (this.views[tag]! > 0 && this.listed[tag] === 0) {
        this.listed[tag] = 1;
        this.active.push(tag);
      }
    }
  }

  remove(day: RegionDay): void {
    for (let i = 0; i < day.tags.length; i++) {
      const tag = day.tags[i]!;
      this.views[tag] = this.views[tag]! - day.views[i]!;
      this.pubs[tag] = this.pubs[tag]! - day.pubs[i]!;
    }
  }

  /** Tags with positive window views (drops the ones that fell to zero). */
  candidates(): readonly number[] {
    const kept: number[] = [];
    for (const tag of this.active) {
      if (this.views[tag]! > 0) kept.push(tag);
      else this.listed[tag] = 0;
    }
    this.active = kept;
    return kept;
  }
}
