import { Worker } from "node:worker_threads";
import { compiledWorker } from "../lib/compiled-worker.js";
import { idTable, oneOf, oneOfLimit, streamRows } from "../db/bulk.js";
import type { Database } from "../db/database.js";
import { dayOf, dayStart } from "../lib/days.js";
import { CodeIndex } from "../lib/code-index.js";
import { GrowableFloat64, GrowableInt32 } from "../lib/growable.js";
import { chunks } from "../lib/order.js";

/**
 * The views every video gained on each day from `fromDay` on, with the attributes that decide where
 * they count (docs/observations.md): a video's first observation counts whole, each later one the gain
 * over the highest count seen before it, on its own UTC day.
 */
export interface VideoGains {
  readonly videoCount: number;
  readonly observations: number;
  /** Country codes; `videoCountry` indexes into it. */
  readonly countries: readonly string[];
  readonly videoCountry: Int32Array;
  readonly videoCreateDay: Float64Array;
  /** Tags of video v: `videoTags[videoTagStart[v] .. videoTagStart[v + 1]]`. */
  readonly videoTagStart: Int32Array;
  readonly videoTags: Int32Array;
  /** Positive gains, but for the negative ones that move a recounted video's views away from its old attributes. */
  readonly gainVideo: Int32Array;
  readonly gainDay: Int32Array;
  readonly gainViews: Float64Array;
  /** With `creators` asked: each video's creator, an index into `creators` (usernames). */
  readonly videoCreator?: Int32Array;
  readonly creators?: readonly string[];
}

type VideoRow = [id: string, createTime: number, region: string, tags: string, username?: string];

/** The types of a `VideoRow`'s columns, of an observation's, and of the videos' columns the gains read. */
const VIDEO_ROW_TYPES = ["text", "int8", "text", "text"] as const;
const OBSERVATION_TYPES = ["text", "int8", "int8"] as const;
const VIDEO_QUERY_TYPES = [...VIDEO_ROW_TYPES, "int8", "int8"] as const;

class VideoTable {
  private readonly countryIndex = new CodeIndex();
  readonly country = new GrowableInt32();
  readonly createDay = new GrowableFloat64();
  readonly tagStart = new GrowableInt32();
  readonly tags = new GrowableInt32();
  private readonly creatorIndex = new CodeIndex();
  readonly creator = new GrowableInt32();

  get countries(): string[] {
    return this.countryIndex.codes;
  }

  get creators(): string[] {
    return this.creatorIndex.codes;
  }

  push([, createTime, region, tags, username]: VideoRow): void {
    if (username !== undefined) this.creator.push(this.creatorIndex.of(username));
    this.country.push(this.countryIndex.of(region));
    this.createDay.push(dayOf(createTime));
    this.tagStart.push(this.tags.length);
    if (tags !== "") for (const tag of tags.split(",")) this.tags.push(Number(tag));
  }
}

/**
 * What a build reads: from its first recomputed day `fromDay`, observed gains only from `gainsFrom`
 * (a later day when, before it, only how stored views count changed: publications, recounted videos).
 */
export interface GainDays {
  readonly fromDay: number;
  readonly gainsFrom: number;
  /** The data's first day: a build from it reads everything. */
  readonly firstDay: number;
}

/**
 * Reads the gains from `fromDay` on, in parts that hold different videos. A full read from a SQLite
 * file is split in two halves of the videos, each read on a thread of its own. What an incremental build
 * reads is read on the caller's connection: after an ingest, its cache holds the pages of the videos just
 * observed. On a thread of its own, starting with an empty cache, one more day's reading stage took
 * 1.33-1.56 s after the ingest in the same process, against 1.13-1.18 s on the caller's connection.
 */
export async function readVideoGains(database: Database, days: GainDays, options: { creators?: boolean } = {}): Promise<VideoGains[]> {
  const { fromDay, gainsFrom, firstDay } = days;
  const creators = options.creators === true;
  const file = database.sqlite && !database.sqlite.memory ? database.sqlite.name : undefined;
  if (fromDay > firstDay) {
    return [await readGainsSince(database, gainsFrom, fromDay)];
  }
  const worker = compiledWorker("./engine-gains-worker.js", import.meta.url);
  if (!file || !worker) return [await readGainsRange(database, {}, { creators })];
  const middle = database
    .sqlite!.prepare("select video_id from videos order by video_id limit 1 offset (select count(*) / 2 from videos)")
    .pluck()
    .get() as string | undefined;
  if (middle === undefined) return [await readGainsRange(database, {}, { creators })];
  return Promise.all([
    readInWorker(worker, { file, range: { below: middle }, creators }),
    readInWorker(worker, { file, range: { from: middle }, creators }),
  ]);
}

/** A range of video ids: `from` inclusive, `below` exclusive; open ends read everything. */
export interface VideoRange {
  readonly from?: string;
  readonly below?: string;
}

/** What a gain-reading thread reads from the SQLite file: a range of videos. */
export interface GainsRead {
  readonly file: string;
  readonly range: VideoRange;
  readonly creators: boolean;
}

function readInWorker(url: URL, read: GainsRead): Promise<VideoGains> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, { workerData: read });
    worker.once("message", (gains: VideoGains) => resolve(gains));
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`gain reader stopped with exit code ${code}`));
    });
  });
}

/** The same gains in arrays that own exactly their bytes (a view into a larger buffer is copied). */
export function fitted(gains: VideoGains): VideoGains {
  const fit = <A extends Int32Array | Float64Array>(a: A): A => (a.byteLength === a.buffer.byteLength ? a : (a.slice() as A));
  return {
    ...gains,
    videoCountry: fit(gains.videoCountry),
    videoCreateDay: fit(gains.videoCreateDay),
    videoTagStart: fit(gains.videoTagStart),
    videoTags: fit(gains.videoTags),
    gainVideo: fit(gains.gainVideo),
    gainDay: fit(gains.gainDay),
    gainViews: fit(gains.gainViews),
    ...(gains.videoCreator ? { videoCreator: fit(gains.videoCreator) } : {}),
  };
}

/** Videos and their observations, both in video-id order and merged, so no lookup is needed. */
export async function readGainsRange(
  database: Database,
  range: VideoRange = {},
  options: { creators?: boolean } = {},
): Promise<VideoGains> {
  const bounds = [range.from === undefined ? "" : "video_id >= ?", range.below === undefined ? "" : "video_id < ?"].filter(Boolean);
  const where = bounds.length ? `where ${bounds.join(" and ")}` : "";
  const params = [range.from, range.below].filter((b) => b !== undefined);
  const table = new VideoTable();
  const ids: string[] = [];
  for await (const rows of streamRows(
    database,
    `select video_id, create_time, region, tags${options.creators ? ", username" : ""} from videos ${where} order by video_id`,
    params,
    options.creators ? [...VIDEO_ROW_TYPES, "text"] : VIDEO_ROW_TYPES,
  )) {
    for (const row of rows as VideoRow[]) {
      ids.push(row[0]);
      table.push(row);
    }
  }
  table.tagStart.push(table.tags.length);
  const gainVideo = new GrowableInt32();
  const gainDay = new GrowableInt32();
  const gainViews = new GrowableFloat64();
  let v = -1;
  let current = "";
  let highest = 0;
  let observations = 0;
  for await (const rows of streamRows(
    database,
    `select video_id, observed_at, view_count from observations ${where} order by video_id, observed_at`,
    params,
    OBSERVATION_TYPES,
  )) {
    for (const [id, at, count] of rows as [string, number, number][]) {
      observations++;
      if (id !== current) {
        // Both reads share one ordering, so the video is at or after the current position.
        do v++;
        while (ids[v] !== id && v < ids.length);
        current = id;
        highest = 0;
      }
      if (count <= highest) continue;
      gainVideo.push(v);
      gainDay.push(dayOf(at));
      gainViews.push(count - highest);
      highest = count;
    }
  }
  return {
    videoCount: ids.length,
    observations,
    countries: table.countries,
    videoCountry: table.country.view(),
    videoCreateDay: table.createDay.view(),
    videoTagStart: table.tagStart.view(),
    videoTags: table.tags.view(),
    gainVideo: gainVideo.view(),
    gainDay: gainDay.view(),
    gainViews: gainViews.view(),
    ...(options.creators ? { videoCreator: table.creator.view(), creators: table.creators } : {}),
  };
}

/**
 * What was observed since `gainsFrom`, in time order, continuing from each video's highest count before
 * it; every video published since `fromDay`, observed since or not, for its publish count; and for
 * each recounted video (`recounted_videos`), its gains from `fromDay` to `gainsFrom` moved from the
 * attributes they were counted with to its current ones: the same gain on the video itself, and its
 * negative on one more video that stands for the old attributes and is published on no day.
 */
export async function readGainsSince(database: Database, gainsFrom: number, fromDay: number): Promise<VideoGains> {
  const fromSecond = dayStart(gainsFrom);
  const videoIndex = new Map<string, number>();
  const indexOf = (id: string) => {
    let v = videoIndex.get(id);
    if (v === undefined) {
      v = videoIndex.size;
      videoIndex.set(id, v);
    }
    return v;
  };
  const obsVideo = new GrowableInt32();
  const obsTime = new GrowableFloat64();
  const obsViews = new GrowableFloat64();
  for await (const rows of streamRows(
    database,
    "select video_id, observed_at, view_count from observations where observed_at >= ? order by observed_at",
    [fromSecond],
    OBSERVATION_TYPES,
  )) {
    for (const [id, at, views] of rows as [string, number, number][]) {
      obsVideo.push(indexOf(id));
      obsTime.push(at);
      obsViews.push(views);
    }
  }
  const observed = [...videoIndex.keys()];
  // Where each observed video's views stood before: from its row when its last observation is on the day
  // (always, for the new day of a daily feed), from its observations otherwise (NaN until known).
  const highest = new Float64Array(observed.length).fill(Number.NaN);
  const { videoRows, recounted } = await readVideoRows(database, fromDay, gainsFrom, videoIndex, indexOf, highest);
  const unknown = observed.filter((_, v) => Number.isNaN(highest[v]));
  await highestBefore(database, unknown, videoIndex, fromSecond, highest);

  const gainVideo = new GrowableInt32();
  const gainDay = new GrowableInt32();
  const gainViews = new GrowableFloat64();
  const gain = (v: number, day: number, views: number) => {
    gainVideo.push(v);
    gainDay.push(day);
    gainViews.push(views);
  };
  const realVideos = videoIndex.size;
  const oldAttributes = new Map(recounted.map(([id], k) => [id, realVideos + k]));
  for (const part of chunks(recounted, oneOfLimit(database))) {
    const ids = oneOf(
      database,
      "video_id",
      part.map(([id]) => id),
    );
    let current = "";
    let top = 0;
    for await (const rows of streamRows(
      database,
      `select video_id, observed_at, view_count from observations where ${ids.sql} and observed_at < ? order by video_id, observed_at`,
      [...ids.params, fromSecond],
      OBSERVATION_TYPES,
    )) {
      for (const [id, at, count] of rows as [string, number, number][]) {
        if (id !== current) {
          current = id;
          top = 0;
        }
        if (count <= top) continue;
        const day = dayOf(at);
        if (day >= fromDay) {
          gain(videoIndex.get(id)!, day, count - top);
          gain(oldAttributes.get(id)!, day, top - count);
        }
        top = count;
      }
    }
  }

  const time = obsTime.view();
  const seen = obsViews.view();
  const video = obsVideo.view();
  for (let i = 0; i < time.length; i++) {
    const v = video[i]!;
    const increase = seen[i]! - highest[v]!;
    if (increase <= 0) continue;
    highest[v] = seen[i]!;
    gain(v, dayOf(time[i]!), increase);
  }

  const table = new VideoTable();
  for (let v = 0; v < realVideos; v++) table.push(videoRows[v]!);
  // Published on no day: -Infinity is before every day.
  for (const [id, , region, tags] of recounted) table.push([id, Number.NEGATIVE_INFINITY, region, tags]);
  table.tagStart.push(table.tags.length);
  return {
    videoCount: realVideos + recounted.length,
    observations: time.length,
    countries: table.countries,
    videoCountry: table.country.view(),
    videoCreateDay: table.createDay.view(),
    videoTagStart: table.tagStart.view(),
    videoTags: table.tags.view(),
    gainVideo: gainVideo.view(),
    gainDay: gainDay.view(),
    gainViews: gainViews.view(),
  };
}

/**
 * The videos published since `fromDay` and the recounted ones, then every other video in `videoIndex`,
 * at their index; recounted videos are given one (with their attributes before the recount). And into
 * `highest`, for each of its videos whose last observation is on day `gainsFrom`: the highest view count
 * it had before that day.
 */
async function readVideoRows(
  database: Database,
  fromDay: number,
  gainsFrom: number,
  videoIndex: ReadonlyMap<string, number>,
  indexOf: (id: string) => number,
  highest: Float64Array,
): Promise<{ videoRows: VideoRow[]; recounted: VideoRow[] }> {
  const videoRows: VideoRow[] = [];
  const videoQuery = "select video_id, create_time, region, tags, last_at, peak_before_last_day from videos";
  const take = (rows: unknown[][], at: (id: string) => number) => {
    for (const [id, createTime, region, tags, lastAt, peakBefore] of rows as [string, number, string, string, number, number][]) {
      const v = at(id);
      videoRows[v] = [id, createTime, region, tags];
      if (v < highest.length && dayOf(lastAt) === gainsFrom) highest[v] = peakBefore;
    }
  };
  for await (const rows of streamRows(database, `${videoQuery} where create_time >= ?`, [dayStart(fromDay)], VIDEO_QUERY_TYPES))
    take(rows, indexOf);
  const recounted: VideoRow[] = [];
  for await (const rows of streamRows(database, "select video_id, create_time, region, tags from recounted_videos", [], VIDEO_ROW_TYPES)) {
    recounted.push(...(rows as VideoRow[]));
  }
  for (const [id] of recounted) indexOf(id);
  const unread = [...videoIndex.keys()].filter((id) => videoRows[videoIndex.get(id)!] === undefined).sort();
  for (const part of chunks(unread, oneOfLimit(database))) {
    const ids = oneOf(database, "video_id", part);
    for await (const rows of streamRows(database, `${videoQuery} where ${ids.sql}`, ids.params, VIDEO_QUERY_TYPES))
      take(rows, (id) => videoIndex.get(id)!);
  }
  return { videoRows, recounted };
}

/** PostgreSQL connections that look up the highest counts at once, each for a part of the videos. */
const LOOKUP_CONNECTIONS = 2;

/** The highest view count observed before `beforeSecond` of each video in `ids`, into `highest` at its index in `videoIndex` (0 for none). */
async function highestBefore(
  database: Database,
  ids: readonly string[],
  videoIndex: ReadonlyMap<string, number>,
  beforeSecond: number,
  highest: Float64Array,
): Promise<void> {
  if (ids.length === 0) return;
  // One descent of the primary key per video, in key order. Given the ids as a list, PostgreSQL would
  // rather scan the whole table, which takes longer the longer the history.
  const sorted = [...ids].sort();
  const parts = database.sqlite ? 1 : LOOKUP_CONNECTIONS;
  const size = Math.ceil(sorted.length / parts);
  await Promise.all(
    Array.from({ length: parts }, async (_, k) => {
      const table = idTable(database, sorted.slice(k * size, (k + 1) * size));
      for await (const rows of streamRows(
        database,
        `select id, (select max(view_count) from observations where video_id = id and observed_at < ?) from ${table.sql}`,
        [beforeSecond, ...table.params],
        ["text", "int8"],
      )) {
        for (const [id, max] of rows as [string, number | null][]) highest[videoIndex.get(id)!] = max ?? 0;
      }
    }),
  );
}
