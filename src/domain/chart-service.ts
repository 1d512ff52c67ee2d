import type { Database } from "../db/database.js";
import { dayOf, dayStart, formatDay } from "../lib/days.js";
import { TagpulseError } from "../lib/errors.js";
import { chunks, compareUtf8 } from "../lib/order.js";
import { derivedHashtagId } from "./catalog.js";
import { decodeChartEntries, decodeDaySeries, seriesBlock, type DaySeries } from "./series-codec.js";
import { CHART_INDUSTRIES, windowStart, type ChartEntry, type Period } from "./chart-model.js";
import { buildCreatorIndex, type CreatorIndex } from "./creator-index.js";
import { CHARTS_VERSION_KEY, readCounter } from "./engine-state.js";
import { ALL_REGIONS, countryName, findIndustry, findRegion } from "./reference-data.js";

/** A chart row exactly as the public API returns it (field order matters on the wire). */
export interface ChartItem {
  hashtag_id: string;
  hashtag_name: string;
  country_info: { id: string; value: string; label: string };
  industry_info: { id: number; value: string; label: string } | { id: ""; value: ""; label: "" };
  is_promoted: boolean;
  trend: { time: number; value: number }[];
  creators: { nick_name: string; avatar_url: string }[];
  publish_cnt: number;
  video_views: number;
  rank: number;
  rank_diff: number | null;
  rank_diff_type: 1 | 2 | 3 | 4;
}

export interface ChartQuery {
  /** A supported country code or `all_regions`. */
  readonly region: string;
  readonly period: Period;
  /** `nothing` or a first-level industry id. */
  readonly industry: string;
  readonly newToTop100?: boolean;
  /** The as-of day; the latest day of the data by default. */
  readonly asOf?: number;
  /** 1-based page; all rows when page and limit are absent. */
  readonly page?: number;
  readonly limit?: number;
}

export interface ChartPage {
  readonly as_of: string;
  readonly window_start: string;
  readonly window_end: string;
  /** Rows in the chart (after the new-to-top-100 filter), at most 100. */
  readonly total: number;
  readonly list: ChartItem[];
}

/** Every row of one chart, each with whether it is new to the chart's top 100. */
export interface ChartRows {
  readonly as_of: string;
  readonly window_start: string;
  readonly window_end: string;
  readonly rows: readonly { readonly item: ChartItem; readonly isNew: boolean }[];
}

export interface ChartService {
  getChart(query: ChartQuery): Promise<ChartPage>;
  /** The whole chart: what `getChart` pages and filters. */
  getChartRows(query: Omit<ChartQuery, "page" | "limit" | "newToTop100">): Promise<ChartRows>;
  /** First and last as-of day with charts, or null before the first build. */
  chartDays(): Promise<{ first: number; last: number } | null>;
  /** Changes whenever a build writes charts: what was read before may be stale. */
  version(): Promise<string>;
  /**
   * Reads every video's gains into memory, so that the latest day's top creators need no more reads of
   * observations; until it is done, and for other days, they are computed from the observations.
   * Call it again after a build: it drops the index it had at once.
   */
  indexCreators(): Promise<void>;
}

/** `country_info` of a country code: its reference names. */
export function countryInfo(code: string): ChartItem["country_info"] {
  return { id: code, value: countryName(code), label: code };
}

/** `industry_info` of an industry id: the reference's names, or the upstream's empty triple for none or an unknown one. */
export function industryInfo(id: number | undefined): ChartItem["industry_info"] {
  const industry = id === undefined ? undefined : findIndustry(id);
  return industry ? { id: industry.id, value: industry.value, label: industry.label } : { id: "", value: "", label: "" };
}

/**
 * The region code of a chart query, after checking its region and industry: an `invalid_parameter`
 * error names the one that is not a chart's.
 */
export function chartRegion(query: { region: string; industry: string }): string {
  if (!CHART_INDUSTRIES.includes(query.industry)) {
    throw new TagpulseError("invalid_parameter", `industry ${query.industry} is not nothing or a first-level industry id`, {
      param: "industry_id",
    });
  }
  const region = query.region === ALL_REGIONS ? ALL_REGIONS : findRegion(query.region)?.id;
  if (!region) throw new TagpulseError("invalid_parameter", `region ${query.region} is not supported`, { param: "region" });
  return region;
}

/**
 * Reads charts: the engine stores each chart's ranked membership; the details of the requested rows
 * (numbers, trend, creators, country) are read from the per-day aggregates and the raw store.
 */
export function createChartService(deps: { database: Database }): ChartService {
  const { db } = deps.database;
  let creatorIndex: CreatorIndex | undefined;
  let indexing = 0;

  async function chartDays() {
    const row = await db
      .selectFrom("charts")
      .select((eb) => [eb.fn.min("day").as("first"), eb.fn.max("day").as("last")])
      .executeTakeFirst();
    return row?.first == null || row.last == null ? null : { first: Number(row.first), last: Number(row.last) };
  }

  return {
    chartDays,
    version: () => readCounter(db, CHARTS_VERSION_KEY),

    async indexCreators() {
      creatorIndex = undefined;
      const mine = ++indexing;
      const days = await chartDays();
      if (!days) return;
      const index = await buildCreatorIndex(deps.database, days);
      if (mine === indexing) creatorIndex = index;
    },

    async getChart(query) {
      const { asOf, region, start, entries } = await readChart(query);
      const rows = query.newToTop100 ? entries.filter(({ entry }) => entry[2] === 1) : entries;
      const paged =
        query.page === undefined && query.limit === undefined
          ? rows
          : rows.slice(((query.page ?? 1) - 1) * (query.limit ?? 20), (query.page ?? 1) * (query.limit ?? 20));
      const list = await renderRows(paged, region, query.period, start, asOf);
      return { as_of: formatDay(asOf), window_start: formatDay(start), window_end: formatDay(asOf), total: rows.length, list };
    },

    async getChartRows(query) {
      const { asOf, region, start, entries } = await readChart(query);
      const items = await renderRows(entries, region, query.period, start, asOf);
      return {
        as_of: formatDay(asOf),
        window_start: formatDay(start),
        window_end: formatDay(asOf),
        rows: items.map((item, i) => ({ item, isNew: entries[i]!.entry[2] === 1 })),
      };
    },
  };

  /** The ranked entries of one chart, with its day, region and window start. */
  async function readChart(query: Omit<ChartQuery, "page" | "limit" | "newToTop100">) {
    const days = await chartDays();
    if (!days) throw new TagpulseError("no_data", "no chart data yet: ingest observations and build the charts first");
    const asOf = query.asOf ?? days.last;
    if (asOf < days.first || asOf > days.last) {
      throw new TagpulseError(
        "no_data",
        `no chart for ${formatDay(asOf)}: charts exist from ${formatDay(days.first)} to ${formatDay(days.last)}`,
        {
          param: "as_of",
        },
      );
    }
    const region = chartRegion(query);
    const chart = await db
      .selectFrom("charts")
      .select("entries")
      .where("day", "=", asOf)
      .where("region", "=", region)
      .where("period", "=", query.period)
      .where("industry", "=", query.industry)
      .executeTakeFirst();
    if (!chart)
      throw new TagpulseError("no_data", `no chart for ${region}, ${query.period} days, industry ${query.industry} on ${formatDay(asOf)}`);

    const entries = decodeChartEntries(chart.entries).map((entry, i) => ({ entry, rank: i + 1 }));
    return { asOf, region, start: windowStart(asOf, query.period, days.first), entries };
  }

  async function renderRows(
    rows: readonly { entry: ChartEntry; rank: number }[],
    region: string,
    period: Period,
    start: number,
    end: number,
  ): Promise<ChartItem[]> {
    if (rows.length === 0) return [];
    const tags = rows.map(({ entry }) => entry[0]);
    const names = new Map(
      (await db.selectFrom("tags").select(["id", "name"]).where("id", "in", tags).execute()).map((r) => [r.id, r.name]),
    );
    const catalog = new Map(
      (
        await db
          .selectFrom("hashtags")
          .selectAll()
          .where("name", "in", [...names.values()])
          .execute()
      ).map((r) => [r.name, r]),
    );
    const series = new Map<number, WindowDay[]>();
    for (const { tag, days } of await readSeries(tags, region, start, end)) series.set(tag, days);
    const countries = region === ALL_REGIONS ? await topCountries(tags, start, end) : undefined;
    const topNames = new Map<number, string[]>();
    for (const tag of tags) {
      const indexed = creatorIndex?.top(tag, region, start, end);
      if (indexed) topNames.set(tag, indexed);
      else {
        topNames.set(tag, await topCreatorsFromObservations(tag, region, start, end));
        // A query per tag, each answered at once by an embedded database: let other work in between.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    // Nick names and avatars of every creator shown, in one read.
    const profiles = new Map<string, { nick_name: string | null; avatar_url: string | null }>();
    for (const part of chunks([...new Set([...topNames.values()].flat())], 500)) {
      for (const row of await db
        .selectFrom("creators")
        .select(["username", "nick_name", "avatar_url"])
        .where("username", "in", part)
        .execute()) {
        profiles.set(row.username, row);
      }
    }
    const creators = new Map(
      [...topNames].map(([tag, names]) => [
        tag,
        names.map((username) => ({
          nick_name: profiles.get(username)?.nick_name ?? username,
          avatar_url: profiles.get(username)?.avatar_url ?? "",
        })),
      ]),
    );

    return rows.map(({ entry: [tag, previousRank], rank }) => {
      const name = names.get(tag)!;
      const item = catalog.get(name);
      const days = series.get(tag) ?? [];
      const country = region === ALL_REGIONS ? countries!.get(tag)! : region;
      return {
        hashtag_id: item?.hashtag_id ?? derivedHashtagId(name),
        hashtag_name: name,
        country_info: countryInfo(country),
        industry_info: industryInfo(item?.industry_id == null ? undefined : Number(item.industry_id)),
        is_promoted: item?.is_promoted === 1,
        trend: trend(days, period, start, end),
        creators: creators.get(tag)!,
        publish_cnt: days.reduce((sum, d) => sum + d.pubs, 0),
        video_views: days.reduce((sum, d) => sum + d.views, 0),
        rank,
        rank_diff: previousRank === 0 ? null : Math.abs(previousRank - rank),
        rank_diff_type: previousRank === 0 ? 4 : rank < previousRank ? 1 : rank === previousRank ? 2 : 3,
      };
    });
  }

  /** The days inside [start, end] of each tag's series in `region`, or in every country when it is undefined. */
  async function readSeries(tags: number[], region: string | undefined, start: number, end: number) {
    let query = db
      .selectFrom("tag_series")
      .select(["tag", "region", "days"])
      .where("block", ">=", seriesBlock(start))
      .where("block", "<=", seriesBlock(end))
      .where("tag", "in", tags)
      .orderBy("block");
    query = region === undefined ? query.where("region", "!=", ALL_REGIONS) : query.where("region", "=", region);
    const series = new Map<string, { tag: number; region: string; days: WindowDay[] }>();
    for (const row of await query.execute()) {
      const key = `${row.tag} ${row.region}`;
      let found = series.get(key);
      if (!found) series.set(key, (found = { tag: row.tag, region: row.region, days: [] }));
      found.days.push(...inWindow(decodeDaySeries(row.days), start, end));
    }
    return [...series.values()];
  }

  /** For `all_regions`: the country where each tag gained the most views in the window (ties: code). */
  async function topCountries(tags: number[], start: number, end: number): Promise<Map<number, string>> {
    const indexed = tags.map((tag) => creatorIndex?.topCountry(tag, start, end));
    if (indexed.every((country) => country !== undefined)) {
      return new Map(tags.flatMap((tag, i) => (indexed[i] === null ? [] : [[tag, indexed[i]!] as const])));
    }
    const best = new Map<number, { region: string; views: number }>();
    for (const row of await readSeries(tags, undefined, start, end)) {
      const views = row.days.reduce((sum, d) => sum + d.views, 0);
      if (views <= 0) continue;
      const current = best.get(row.tag);
      if (!current || views > current.views || (views === current.views && compareUtf8(row.region, current.region) < 0)) {
        best.set(row.tag, { region: row.region, views });
      }
    }
    return new Map([...best].map(([tag, { region }]) => [tag, region]));
  }

  /**
   * Up to 3 creators whose videos carrying the tag gained the most views in the window, computed from
   * the observations of every video that carries the tag.
   */
  async function topCreatorsFromObservations(tag: number, region: string, start: number, end: number): Promise<string[]> {
    let query = db
      .selectFrom("video_tags")
      .innerJoin("videos", "videos.video_id", "video_tags.video_id")
      .innerJoin("observations", "observations.video_id", "video_tags.video_id")
      .select(["videos.username", "observations.video_id", "observations.observed_at", "observations.view_count"])
      .where("video_tags.tag", "=", tag)
      .where("videos.last_at", ">=", dayStart(start))
      .where("videos.first_at", "<", dayStart(end + 1))
      .orderBy("observations.video_id")
      .orderBy("observations.observed_at");
    if (region !== ALL_REGIONS) query = query.where("videos.region", "=", region);
    const rows = await query.execute();
    const gained = new Map<string, number>();
    let video = "";
    let highest = 0;
    for (const row of rows) {
      if (row.video_id !== video) {
        video = row.video_id;
        highest = 0;
      }
      const views = Number(row.view_count);
      if (views <= highest) continue;
      const day = dayOf(Number(row.observed_at));
      if (day >= start && day <= end) gained.set(row.username, (gained.get(row.username) ?? 0) + views - highest);
      highest = views;
    }
    return [...gained]
      .filter(([, views]) => views > 0)
      .sort((a, b) => b[1] - a[1] || compareUtf8(a[0], b[0]))
      .slice(0, 3)
      .map(([username]) => username);
  }
}

/** The popularity curve: daily points for 7 and 30 days, 7-day buckets ending on the as-of day for 120. */
export function trend(
  days: readonly { day: number; views: number }[],
  period: Period,
  start: number,
  end: number,
): { time: number; value: number }[] {
  const byDay = new Map(days.map((d) => [d.day, Number(d.views)]));
  const points: { time: number; amount: number }[] = [];
  const width = period === 120 ? 7 : 1;
  for (let last = end; last >= start; last -= width) {
    const first = Math.max(start, last - width + 1);
    let amount = 0;
    for (let day = first; day <= last; day++) amount += byDay.get(day) ?? 0;
    points.push({ time: dayStart(first), amount });
  }
  points.reverse();
  const peak = Math.max(0, ...points.map((p) => p.amount));
  return points.map((p) => ({ time: p.time, value: peak === 0 ? 0 : Math.round((p.amount / peak) * 100) / 100 }));
}

interface WindowDay {
  day: number;
  views: number;
  pubs: number;
}

/** The days of a series inside [start, end]. */
function inWindow(series: DaySeries, start: number, end: number): WindowDay[] {
  const out: WindowDay[] = [];
  for (let i = 0; i < series.days.length; i++) {
    const day = series.days[i]!;
    if (day >= start && day <= end) out.push({ day, views: series.views[i]!, pubs: series.pubs[i]! });
  }
  return out;
}
