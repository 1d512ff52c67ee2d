import type SqliteDatabase from "better-sqlite3";
import {
  CREATOR_COLUMNS,
  partition,
  planBatch,
  VIDEO_TRACKING_COLUMNS,
  VIDEO_COLUMNS,
  type BatchPlan,
  type CreatorRow,
  type RecountedVideo,
  type RowColumns,
  type StoredCreator,
  type StoredState,
  type StoredVideo,
  type VideoRow,
} from "./ingest/batch-plan.js";
import type { ParsedBatch } from "./ingest/observation-batch.js";
import type { IngestReport } from "./ingest-service.js";
import type { ObservationWriter } from "./observation-writer.js";
import { RecentCache } from "../lib/recent-cache.js";
import { BUMP_GENERATION_SQL, STALE_MARK_KEYS } from "./engine-state.js";

/** Rows per multi-row statement: fewer calls into SQLite, within its limit of bound parameters. */
const ROWS_PER_STATEMENT = 64;

/**
 * A checkpoint copies every page changed since the last one into the database file, and a batch
 * changes pages all over the observations table: during an ingest the WAL may grow to 2 GiB (of 8 KiB
 * pages) before one, instead of SQLite's default 1,000 pages.
 */
const BULK_AUTOCHECKPOINT_PAGES = 262_144;

/**
 * Rows per cache generation. Videos are observed for days after publishing: two generations hold
 * the ones a feed keeps seeing, while memory stays bounded however long the history.
 */
const CACHED_ROWS = 120_000;

/**
 * The SQLite writer: one immediate transaction per batch, each changed row written once per batch
 * by multi-row statements. What the database holds is cached between batches, by string slot; the
 * cache is dropped whenever another connection has committed since. A table that was empty when the
 * ingest began is known entirely from the cache, so new keys cost no lookup.
 */
export function createSqliteObservationWriter(sqlite: SqliteDatabase.Database): ObservationWriter {
  // "or fail" rather than the default "or abort": a multi-row statement that cannot fail halfway
  // needs no statement journal, a copy of every page it touches. A failure still rolls back the batch.
  const insertObservations = multiRowStatement(sqlite, "insert or fail into observations (video_id, observed_at, view_count) values", 3);
  const raiseObservation = sqlite.prepare("update observations set view_count = ? where video_id = ? and observed_at = ?");
  const selectViewCount = sqlite
    .prepare<[string, number], number>("select view_count from observations where video_id = ? and observed_at = ?")
    .pluck();
  const videoRows = rowStatements<VideoRow>(
    sqlite,
    "videos",
    VIDEO_COLUMNS,
    // A video that keeps its attributes leaves the index on create_time alone.
    VIDEO_TRACKING_COLUMNS.slice(1),
  );
  const selectVideo = sqlite.prepare<[string], StoredVideo>(videoRows.select);
  const insertVideoTags = multiRowStatement(sqlite, "insert or ignore into video_tags (tag, video_id) values", 2);
  const deleteVideoTag = sqlite.prepare("delete from video_tags where tag = ? and video_id = ?");
  const creatorRows = rowStatements<CreatorRow>(sqlite, "creators", CREATOR_COLUMNS);
  const selectCreator = sqlite.prepare<[string], StoredCreator>(creatorRows.select);
  const selectTag = sqlite.prepare<[string], number>("select id from tags where name = ?").pluck();
  const selectTagName = sqlite.prepare<[number], string>("select name from tags where id = ?").pluck();
  const insertTag = sqlite.prepare<[string], number>("insert into tags (name) values (?) returning id").pluck();
  // Lowers a stale mark: stores the day unless the stored one is earlier.
  const lowerMark = sqlite.prepare<[string, string]>(
    `insert into engine_state (key, value) values (?, ?)
     on conflict (key) do update set value = excluded.value where cast(excluded.value as integer) < cast(engine_state.value as integer)`,
  );
  const insertRecounted = sqlite.prepare<[RecountedVideo]>(
    `insert into recounted_videos (video_id, create_time, region, tags) values (@video_id, @create_time, @region, @tags)
     on conflict (video_id) do nothing`,
  );
  const bumpGeneration = sqlite.prepare(BUMP_GENERATION_SQL);
  const dataVersion = sqlite.prepare<[], number>("pragma data_version").pluck();
  const isEmpty = (table: string) => sqlite.prepare<[], number>(`select not exists (select 1 from ${table})`).pluck();
  const videosEmpty = isEmpty("videos");
  const creatorsEmpty = isEmpty("creators");
  const tagsEmpty = isEmpty("tags");

  // Caches by string slot, of recently used rows; `complete` while every row of the table is cached.
  const videos = new RecentCache<StoredVideo>(CACHED_ROWS, () => (complete.videos = false));
  const creators = new RecentCache<StoredCreator>(CACHED_ROWS, () => (complete.creators = false));
  let tagIds: (number | undefined)[] = [];
  let complete = { videos: false, creators: false, tags: false };
  let seenVersion: number | undefined;
  let autocheckpoint: number | undefined;

  const state: StoredState = {
    video(videoId, slot) {
      let video = videos.get(slot);
      if (video === undefined && !complete.videos) {
        video = selectVideo.get(videoId);
        if (video !== undefined) videos.set(slot, video);
      }
      return video;
    },
    viewCount: (videoId, observedAt) => selectViewCount.get(videoId, observedAt),
    creator(username, slot) {
      let creator = creators.get(slot);
      if (creator === undefined && !complete.creators) {
        creator = selectCreator.get(username);
        if (creator !== undefined) creators.set(slot, creator);
      }
      return creator;
    },
    tagId(name, slot) {
      let id = tagIds[slot];
      if (id === undefined) {
        id = (complete.tags ? undefined : selectTag.get(name)) ?? insertTag.get(name)!;
        tagIds[slot] = id;
      }
      return id;
    },
    tagName: (id) => selectTagName.get(id),
  };

  function forget(): void {
    videos.clear();
    creators.clear();
    tagIds = [];
    complete = { videos: false, creators: false, tags: false };
  }

  /** Starts the caches over from what the database holds now. */
  function restart(): void {
    forget();
    complete = { videos: videosEmpty.get() === 1, creators: creatorsEmpty.get() === 1, tags: tagsEmpty.get() === 1 };
  }

  function store(plan: BatchPlan): void {
    const { inserted, raised } = plan;
    insertObservations.run(inserted.videoId.length, (row, args, at) => {
      args[at] = inserted.videoId[row];
      args[at + 1] = inserted.observedAt[row];
      args[at + 2] = inserted.viewCount[row];
    });
    for (let row = 0; row < raised.videoId.length; row++)
      raiseObservation.run(raised.viewCount[row], raised.videoId[row], raised.observedAt[row]);
    const { removedTags, addedTags } = plan;
    for (let row = 0; row < removedTags.tag.length; row++) deleteVideoTag.run(removedTags.tag[row], removedTags.videoId[row]);
    // By tag, so that each tag's new rows go to one place of the table.
    const byTag = sortedBy(addedTags.tag);
    insertVideoTags.run(byTag.length, (k, args, at) => {
      const row = byTag[k]!;
      args[at] = addedTags.tag[row];
      args[at + 1] = addedTags.videoId[row];
    });
    videoRows.write(plan.videos, plan.videoIsNew, plan.videoKeepsAttributes);
    creatorRows.write(plan.creators, plan.creatorIsNew);
    if (plan.dirtyFrom !== Number.POSITIVE_INFINITY) lowerMark.run(STALE_MARK_KEYS.from, String(plan.dirtyFrom));
    if (plan.recountFrom !== Number.POSITIVE_INFINITY) lowerMark.run(STALE_MARK_KEYS.recountFrom, String(plan.recountFrom));
    // The first change since the charts counted a video keeps the attributes they counted.
    for (const video of plan.recounted) insertRecounted.run(video);
    bumpGeneration.run();
  }

  const planAndStore = sqlite.transaction((batch: ParsedBatch, strings: readonly string[]): BatchPlan => {
    // Another connection may have changed any row since this one last wrote: the cache would lie.
    const version = dataVersion.get();
    if (version !== seenVersion) restart();
    seenVersion = version;
    const plan = planBatch(batch, strings, state);
    store(plan);
    // Rows are cached once written; a rollback (an exception here) drops the whole cache.
    plan.videoSlots.forEach((slot, k) => videos.set(slot, plan.videos[k]!));
    plan.creatorSlots.forEach((slot, k) => creators.set(slot, plan.creators[k]!));
    return plan;
  });

  return {
    begin() {
      forget();
      seenVersion = undefined;
      autocheckpoint ??= sqlite.pragma("wal_autocheckpoint", { simple: true }) as number;
      if (autocheckpoint > 0 && autocheckpoint < BULK_AUTOCHECKPOINT_PAGES)
        sqlite.pragma(`wal_autocheckpoint = ${BULK_AUTOCHECKPOINT_PAGES}`);
    },
    async write(batch, strings, report: IngestReport) {
      // Slots are numbers in the string table: when it starts over, they name other strings.
      if (batch.resetStrings) forget();
      let plan: BatchPlan;
      try {
        plan = planAndStore.immediate(batch, strings);
      } catch (error) {
        forget();
        seenVersion = undefined;
        throw error;
      }
      report.accepted += plan.accepted;
      report.duplicate += plan.duplicate;
    },
    async end() {
      forget();
      if (autocheckpoint !== undefined) sqlite.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
      autocheckpoint = undefined;
    },
  };
}

/** Row numbers ordered by a non-negative integer key (ties in row order), by a native numeric sort. */
function sortedBy(keys: readonly number[]): Int32Array {
  const rows = keys.length;
  // key * 2^21 + row stays below 2^53 for keys below 2^32 and up to 2^21 rows.
  if (rows >= 1 << 21 || keys.some((key) => key >= 2 ** 32)) {
    return Int32Array.from(keys.keys()).sort((a, b) => keys[a]! - keys[b]! || a - b);
  }
  const packed = new Float64Array(rows);
  for (let row = 0; row < rows; row++) packed[row] = keys[row]! * 2 ** 21 + row;
  packed.sort();
  const order = new Int32Array(rows);
  for (let k = 0; k < rows; k++) order[k] = packed[k]! % 2 ** 21;
  return order;
}

/**
 * Writes of a table's rows, from one list of its columns, the key first: multi-row inserts of new rows,
 * multi-row updates of stored ones (the plan tells them apart, cheaper than an upsert that tries the
 * insert first), and the select of a stored row's other columns by key. Stored rows flagged as
 * `partial` update only the `partialColumns`.
 */
function rowStatements<R extends object>(
  sqlite: SqliteDatabase.Database,
  table: string,
  rowColumns: RowColumns<R>,
  partialRowColumns: RowColumns<R> = rowColumns.slice(1),
) {
  // SQLite stores each value as given: only the names matter here.
  const columns = rowColumns.map(([name]) => name);
  const partialColumns = partialRowColumns.map(([name]) => name);
  const [key, ...rest] = columns;
  const insert = multiRowStatement(sqlite, `insert or fail into ${table} (${columns.join(", ")}) values`, columns.length);
  const updateOf = (set: readonly string[]) => ({
    columns: [key!, ...set],
    statement: multiRowStatement(
      sqlite,
      `update or fail ${table} set ${set.map((column, i) => `${column} = v.column${i + 2}`).join(", ")} from (values`,
      set.length + 1,
      `) as v where ${table}.${key} = v.column1`,
    ),
  });
  const update = updateOf(rest);
  const partialUpdate = updateOf(partialColumns);
  const fill = (rows: readonly R[], names: readonly string[]) => (row: number, args: unknown[], at: number) => {
    const values = rows[row]! as Record<string, unknown>;
    for (let i = 0; i < names.length; i++) args[at + i] = values[names[i]!];
  };
  return {
    select: `select ${rest.join(", ")} from ${table} where ${key} = ?`,
    write(rows: readonly R[], isNew: readonly boolean[], partial?: readonly boolean[]): void {
      const [added, stored] = partition(rows, isNew);
      const [partly, whole] = partial ? partition(stored, partition(partial, isNew)[1]) : [[], stored];
      insert.run(added.length, fill(added, columns));
      update.statement.run(whole.length, fill(whole, update.columns));
      partialUpdate.statement.run(partly.length, fill(partly, partialUpdate.columns));
    },
  };
}

/**
 * An insert of many rows per statement: `run(rows, fill)` binds rows in chunks, `fill` writing row
 * `row`'s values into `args` from index `at`.
 */
function multiRowStatement(sqlite: SqliteDatabase.Database, head: string, columns: number, tail = "") {
  const values = (rows: number) => Array.from({ length: rows }, () => `(${Array(columns).fill("?").join(", ")})`).join(", ");
  const many = sqlite.prepare(`${head} ${values(ROWS_PER_STATEMENT)} ${tail}`);
  const one = sqlite.prepare(`${head} ${values(1)} ${tail}`);
  const manyArgs: unknown[] = new Array(ROWS_PER_STATEMENT * columns);
  const oneArgs: unknown[] = new Array(columns);
  return {
    run(rows: number, fill: (row: number, args: unknown[], at: number) => void): void {
      let row = 0;
      for (; row + ROWS_PER_STATEMENT <= rows; row += ROWS_PER_STATEMENT) {
        for (let k = 0; k < ROWS_PER_STATEMENT; k++) fill(row + k, manyArgs, k * columns);
        many.run(manyArgs);
      }
      for (; row < rows; row++) {
        fill(row, oneArgs, 0);
        one.run(oneArgs);
      }
    },
  };
}
