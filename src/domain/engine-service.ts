import { sql } from "kysely";
import type { Database } from "../db/database.js";
import { dayOf, dayStart } from "../lib/days.js";
import { GrowableFloat64, GrowableInt32 } from "../lib/growable.js";
import { chunks, compareUtf8 } from "../lib/order.js";
import {
  ALL_REGIONS_SLOT,
  CHART_INDUSTRIES,
  CHART_REGIONS,
  CHART_SIZE,
  PERIODS,
  type ChartEntry,
} from "./chart-model.js";
import { clearDirty, readDirtyFrom } from "./engine-state.js";
import { ALL_REGIONS, INDUSTRIES } from "./reference-data.js";
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

/** One day's views and publish counts of the tags of one chart region. */
interface SlotDay {
  tags: Int32Array;
  views: Float64Array;
  pubs: Int32Array;
}

const REGION_SLOT = new Map(CHART_REGIONS.map((code, slot) => [code, slot]));
const INDUSTRY_INDEX = new Map(INDUSTRIES.map((industry, i) => [industry.id, i + 1]));
const SERIES_PER_SLOT = PERIODS.length * CHART_INDUSTRIES.length;

function seriesIndex(slot: number, periodIndex: number, industryIndex: number): number {
  return slot * SERIES_PER_SLOT + periodIndex * CHART_INDUSTRIES.length + industryIndex;
}

/**
 * The trend engine: turns stored observations into per-day tag aggregates (`tag_days`) and the ranked
 * membership of every chart (`charts`, `chart_firsts`), as docs/charts.md defines them.
 */
export function createEngineService(deps: { database: Database }): EngineService {
  const { db, maxParams } = deps.database;

  return {
    async build(options = {}) {
      const started = performance.now();
      const progress = options.onProgress ?? (() => {});
      const span = await db
        .selectFrom("observations")
        .select((eb) => [eb.fn.min("observed_at").as("first"), eb.fn.max("observed_at").as("last")])
        .executeTakeFirst();
      const dirty = await readDirtyFrom(db);
      if (span?.first == null || span.last == null) {
        await db.transaction().execute(async (trx) => {
          await trx.deleteFrom("charts").execute();
          await trx.deleteFrom("chart_firsts").execute();
          await trx.deleteFrom("tag_days").execute();
          if (dirty !== null) await clearDirty(trx, dirty);
        });
        return emptyReport(started, dirty !== null);
      }
      const firstDay = dayOf(Number(span.first));
      const lastDay = dayOf(Number(span.last));
      const full = options.full === true;
      if (!full && dirty === null) {
        return { ...emptyReport(started, false), firstDay, lastDay };
      }
      const fromDay = full ? firstDay : Math.max(firstDay, dirty ?? firstDay);

      // Tags: names give the tie-break order, the catalog gives industries.
      const tagRows = await db.selectFrom("tags").select(["id", "name"]).execute();
      const tagCount = tagRows.reduce((max, r) => Math.max(max, r.id), 0) + 1;
      const nameRank = new Int32Array(tagCount);
      tagRows
        .slice()
        .sort((a, b) => compareUtf8(a.name, b.name))
        .forEach((row, i) => (nameRank[row.id] = i));
      const industryOf = new Uint8Array(tagCount);
      const catalog = await db
        .selectFrom("hashtags")
        .innerJoin("tags", "tags.name", "hashtags.name")
        .select(["tags.id as tag", "hashtags.industry_id as industry"])
        .where("hashtags.industry_id", "is not", null)
        .execute();
      for (const row of catalog) industryOf[row.tag] = INDUSTRY_INDEX.get(Number(row.industry)) ?? 0;

      // Observations from the first stale day, in time order.
      progress({ stage: "reading", done: 0, total: 1 });
      const fromSecond = dayStart(fromDay);
      const videoIndex = new Map<string, number>();
      const obsVideo = new GrowableInt32();
      const obsTime = new GrowableFloat64();
      const obsViews = new GrowableFloat64();
      const stream = db
        .selectFrom("observations")
        .select(["video_id", "observed_at", "view_count"])
        .where("observed_at", ">=", fromSecond)
        .orderBy("observed_at")
        .orderBy("video_id")
        .stream(10_000);
      for await (const row of stream) {
        let v = videoIndex.get(row.video_id);
        if (v === undefined) {
          v = videoIndex.size;
          videoIndex.set(row.video_id, v);
        }
        obsVideo.push(v);
        obsTime.push(Number(row.observed_at));
        obsViews.push(Number(row.view_count));
      }
      const videoCount = videoIndex.size;

      // Those videos' attributes, and the highest view count each reached before the stale day.
      const videoCountry = new Int32Array(videoCount);
      const videoCreateDay = new Float64Array(videoCount);
      const videoTagStart = new Int32Array(videoCount + 1);
      const videoTagsFlat = new GrowableInt32();
      const highest = new Float64Array(videoCount);
      const countries: string[] = [];
      const countryIndex = new Map<string, number>();
      const tagLists: number[][] = new Array(videoCount);
      const ids = [...videoIndex.keys()];
      const attributeRows = (part: string[]) =>
        db.selectFrom("videos").select(["video_id", "create_time", "region", "tags"]).where("video_id", "in", part).execute();
      const readAttributes = (row: { video_id: string; create_time: number; region: string; tags: string }) => {
        const v = videoIndex.get(row.video_id);
        if (v === undefined) return;
        let c = countryIndex.get(row.region);
        if (c === undefined) {
          c = countries.length;
          countries.push(row.region);
          countryIndex.set(row.region, c);
        }
        videoCountry[v] = c;
        videoCreateDay[v] = dayOf(Number(row.create_time));
        tagLists[v] = row.tags === "" ? [] : row.tags.split(",").map(Number);
      };
      if (fromDay === firstDay) {
        for await (const row of db.selectFrom("videos").select(["video_id", "create_time", "region", "tags"]).stream(10_000)) {
          readAttributes(row);
        }
      } else {
        for (const part of chunks(ids, maxParams)) {
          for (const row of await attributeRows(part)) readAttributes(row);
          const before = await db
            .selectFrom("observations")
            .select((eb) => ["video_id", eb.fn.max("view_count").as("highest")])
            .where("video_id", "in", part)
            .where("observed_at", "<", fromSecond)
            .groupBy("video_id")
            .execute();
          for (const row of before) highest[videoIndex.get(row.video_id)!] = Number(row.highest);
        }
      }
      for (let v = 0; v < videoCount; v++) {
        const list = tagLists[v] ?? [];
        videoTagStart[v] = videoTagsFlat.length;
        for (const tag of list) videoTagsFlat.push(tag);
      }
      videoTagStart[videoCount] = videoTagsFlat.length;
      const videoTags = videoTagsFlat.view();

      // Per-day aggregates from the stale day on: views gained and videos published, per country and tag.
      progress({ stage: "aggregating", done: 0, total: lastDay - fromDay + 1 });
      const countryCount = countries.length;
      const views = new Float64Array(countryCount * tagCount);
      const pubs = new Int32Array(countryCount * tagCount);
      const touched = new GrowableInt32();
      const createdOn = new Map<number, number[]>();
      for (let v = 0; v < videoCount; v++) {
        const day = videoCreateDay[v]!;
        if (day < fromDay || day > lastDay) continue;
        const list = createdOn.get(day);
        if (list) list.push(v);
        else createdOn.set(day, [v]);
      }
      const time = obsTime.view();
      const seen = obsViews.view();
      const obsVideos = obsVideo.view();
      const tagDayRows: { region: string; tag: number; day: number; views: number; publish_cnt: number }[] = [];
      const computedDays = new Map<number, SlotDay[]>();
      let cursor = 0;
      for (let day = fromDay; day <= lastDay; day++) {
        const touch = (cell: number) => {
          if (views[cell] === 0 && pubs[cell] === 0) touched.push(cell);
        };
        const dayEnd = dayStart(day + 1);
        for (; cursor < time.length && time[cursor]! < dayEnd; cursor++) {
          const v = obsVideos[cursor]!;
          const gain = seen[cursor]! - highest[v]!;
          if (gain <= 0) continue;
          highest[v] = seen[cursor]!;
          const base = videoCountry[v]! * tagCount;
          for (let i = videoTagStart[v]!; i < videoTagStart[v + 1]!; i++) {
            const cell = base + videoTags[i]!;
            touch(cell);
            views[cell] = views[cell]! + gain;
          }
        }
        for (const v of createdOn.get(day) ?? []) {
          const base = videoCountry[v]! * tagCount;
          for (let i = videoTagStart[v]!; i < videoTagStart[v + 1]!; i++) {
            const cell = base + videoTags[i]!;
            touch(cell);
            pubs[cell] = pubs[cell]! + 1;
          }
        }
        computedDays.set(day, collectDay(day, touched, views, pubs, tagCount, countries, tagDayRows));
        progress({ stage: "aggregating", done: day - fromDay + 1, total: lastDay - fromDay + 1 });
      }

      // Earlier days inside the longest window come from the stored aggregates.
      const maxPeriod = PERIODS[PERIODS.length - 1]!;
      const loadFrom = Math.max(firstDay, fromDay - maxPeriod + 1);
      const storedDays = new Map<number, SlotDay[]>();
      if (loadFrom < fromDay) {
        const byDay = new Map<number, { slot: number; tag: number; views: number; pubs: number }[]>();
        const rows = db
          .selectFrom("tag_days")
          .select(["region", "tag", "day", "views", "publish_cnt"])
          .where("day", ">=", loadFrom)
          .where("day", "<", fromDay)
          .where("region", "in", CHART_REGIONS as string[])
          .stream(10_000);
        for await (const row of rows) {
          const list = byDay.get(row.day) ?? [];
          list.push({ slot: REGION_SLOT.get(row.region)!, tag: row.tag, views: Number(row.views), pubs: row.publish_cnt });
          byDay.set(row.day, list);
        }
        for (let day = loadFrom; day < fromDay; day++) storedDays.set(day, toSlotDays(byDay.get(day) ?? []));
      }
      const slotDay = (day: number): SlotDay[] | undefined => computedDays.get(day) ?? storedDays.get(day);

      // Previous day's ranks and every tag already seen in each chart series.
      const seriesCount = CHART_REGIONS.length * SERIES_PER_SLOT;
      const previousRanks: Map<number, number>[] = Array.from({ length: seriesCount }, () => new Map());
      const everSeen: Set<number>[] = Array.from({ length: seriesCount }, () => new Set());
      const periodIndex = new Map<number, number>(PERIODS.map((p, i) => [p, i]));
      const industryIndex = new Map(CHART_INDUSTRIES.map((key, i) => [key, i]));
      const seriesOf = (region: string, period: number, industry: string) => {
        const slot = REGION_SLOT.get(region);
        const p = periodIndex.get(period);
        const i = industryIndex.get(industry);
        return slot === undefined || p === undefined || i === undefined ? undefined : seriesIndex(slot, p, i);
      };
      if (fromDay > firstDay) {
        const previous = await db.selectFrom("charts").selectAll().where("day", "=", fromDay - 1).execute();
        for (const chart of previous) {
          const s = seriesOf(chart.region, chart.period, chart.industry);
          if (s === undefined) continue;
          (JSON.parse(chart.entries) as ChartEntry[]).forEach(([tag], i) => previousRanks[s]!.set(tag, i + 1));
        }
        const firsts = db
          .selectFrom("chart_firsts")
          .select(["region", "period", "industry", "tag"])
          .where("first_day", "<", fromDay)
          .stream(10_000);
        for await (const row of firsts) {
          const s = seriesOf(row.region, row.period, row.industry);
          if (s !== undefined) everSeen[s]!.add(row.tag);
        }
      }

      // Slide every window across the stale days and rank each day's candidates.
      progress({ stage: "ranking", done: 0, total: lastDay - fromDay + 1 });
      const chartRows: { day: number; region: string; period: number; industry: string; entries: string }[] = [];
      const firstRows: { region: string; period: number; industry: string; tag: number; first_day: number }[] = [];
      const windows = CHART_REGIONS.map(() => PERIODS.map(() => new SlidingWindow(tagCount)));
      for (let slot = 0; slot < CHART_REGIONS.length; slot++) {
        PERIODS.forEach((period, p) => {
          for (let day = Math.max(firstDay, fromDay - period + 1); day < fromDay; day++) {
            const data = slotDay(day)?.[slot];
            if (data) windows[slot]![p]!.add(data);
          }
        });
      }
      let activeViews: Float64Array = new Float64Array(0);
      let activePubs: Int32Array = new Int32Array(0);
      const better = (a: number, b: number) =>
        activeViews[a]! > activeViews[b]! ||
        (activeViews[a] === activeViews[b] &&
          (activePubs[a]! > activePubs[b]! || (activePubs[a] === activePubs[b] && nameRank[a]! < nameRank[b]!)));
      const selectors = CHART_INDUSTRIES.map(() => new TopK(CHART_SIZE, better));
      for (let day = fromDay; day <= lastDay; day++) {
        for (let slot = 0; slot < CHART_REGIONS.length; slot++) {
          const region = CHART_REGIONS[slot]!;
          for (let p = 0; p < PERIODS.length; p++) {
            const period = PERIODS[p]!;
            const window = windows[slot]![p]!;
            const entering = slotDay(day)?.[slot];
            if (entering) window.add(entering);
            const leaving = day - period >= firstDay ? slotDay(day - period)?.[slot] : undefined;
            if (leaving) window.remove(leaving);
            activeViews = window.views;
            activePubs = window.pubs;
            for (const selector of selectors) selector.reset();
            for (const tag of window.candidates()) {
              selectors[0]!.offer(tag);
              const industry = industryOf[tag]!;
              if (industry !== 0) selectors[industry]!.offer(tag);
            }
            selectors.forEach((selector, i) => {
              const ranked = selector.sorted();
              const s = seriesIndex(slot, p, i);
              const previous = previousRanks[s]!;
              const seen = everSeen[s]!;
              const industry = CHART_INDUSTRIES[i]!;
              const entries: ChartEntry[] = ranked.map((tag) => {
                const isNew = seen.has(tag) ? 0 : 1;
                if (isNew) {
                  seen.add(tag);
                  firstRows.push({ region, period, industry, tag, first_day: day });
                }
                return [tag, previous.get(tag) ?? 0, isNew];
              });
              previous.clear();
              ranked.forEach((tag, r) => previous.set(tag, r + 1));
              chartRows.push({ day, region, period, industry, entries: JSON.stringify(entries) });
            });
          }
        }
        progress({ stage: "ranking", done: day - fromDay + 1, total: lastDay - fromDay + 1 });
      }

      // Replace everything from the stale day on, in one transaction.
      const totalRows = tagDayRows.length + chartRows.length + firstRows.length;
      let written = 0;
      progress({ stage: "writing", done: 0, total: totalRows });
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom("tag_days").where("day", ">=", fromDay).execute();
        await trx.deleteFrom("charts").where("day", ">=", fromDay).execute();
        await trx.deleteFrom("chart_firsts").where("first_day", ">=", fromDay).execute();
        for (const part of chunks(tagDayRows, Math.floor(maxParams / 5))) {
          await trx.insertInto("tag_days").values(part).execute();
          progress({ stage: "writing", done: (written += part.length), total: totalRows });
        }
        for (const part of chunks(chartRows, Math.floor(maxParams / 5))) {
          await trx.insertInto("charts").values(part).execute();
          progress({ stage: "writing", done: (written += part.length), total: totalRows });
        }
        for (const part of chunks(firstRows, Math.floor(maxParams / 5))) {
          await trx.insertInto("chart_firsts").values(part).execute();
          progress({ stage: "writing", done: (written += part.length), total: totalRows });
        }
        if (dirty !== null) await clearDirty(trx, dirty);
      });
      if (deps.database.dialect === "sqlite") await sql`pragma optimize`.execute(db);

      return {
        built: true,
        full,
        firstDay,
        lastDay,
        fromDay,
        days: lastDay - fromDay + 1,
        charts: chartRows.length,
        observations: time.length,
        seconds: (performance.now() - started) / 1000,
      };
    },
  };
}

function emptyReport(started: number, built: boolean): BuildReport {
  return {
    built,
    full: false,
    firstDay: null,
    lastDay: null,
    fromDay: null,
    days: 0,
    charts: 0,
    observations: 0,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Turns one day's dense per-country accumulators into stored rows and per-chart-region lists, and
 * resets the cells it read.
 */
function collectDay(
  day: number,
  touched: GrowableInt32,
  views: Float64Array,
  pubs: Int32Array,
  tagCount: number,
  countries: readonly string[],
  rows: { region: string; tag: number; day: number; views: number; publish_cnt: number }[],
): SlotDay[] {
  const cells = touched.view().slice().sort();
  touched.length = 0;
  const allViews = new Map<number, number>();
  const allPubs = new Map<number, number>();
  const perSlot: { slot: number; tag: number; views: number; pubs: number }[] = [];
  for (const cell of cells) {
    const country = countries[Math.floor(cell / tagCount)]!;
    const tag = cell % tagCount;
    const v = views[cell]!;
    const n = pubs[cell]!;
    views[cell] = 0;
    pubs[cell] = 0;
    rows.push({ region: country, tag, day, views: v, publish_cnt: n });
    allViews.set(tag, (allViews.get(tag) ?? 0) + v);
    allPubs.set(tag, (allPubs.get(tag) ?? 0) + n);
    const slot = REGION_SLOT.get(country);
    if (slot !== undefined) perSlot.push({ slot, tag, views: v, pubs: n });
  }
  for (const [tag, v] of allViews) {
    const n = allPubs.get(tag)!;
    rows.push({ region: ALL_REGIONS, tag, day, views: v, publish_cnt: n });
    perSlot.push({ slot: ALL_REGIONS_SLOT, tag, views: v, pubs: n });
  }
  return toSlotDays(perSlot);
}

function toSlotDays(items: readonly { slot: number; tag: number; views: number; pubs: number }[]): SlotDay[] {
  const counts = new Int32Array(CHART_REGIONS.length);
  for (const item of items) counts[item.slot]!++;
  const days = Array.from(counts, (n) => ({ tags: new Int32Array(n), views: new Float64Array(n), pubs: new Int32Array(n) }));
  const filled = new Int32Array(CHART_REGIONS.length);
  for (const item of items) {
    const i = filled[item.slot]!++;
    const target = days[item.slot]!;
    target.tags[i] = item.tag;
    target.views[i] = item.views;
    target.pubs[i] = item.pubs;
  }
  return days;
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

  add(day: SlotDay): void {
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

  remove(day: SlotDay): void {
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

