import { setImmediate } from "node:timers/promises";
import { sql, type RawBuilder, type Transaction } from "kysely";
import { array } from "../db/pg-literals.js";
import type { Database } from "../db/database.js";
import type { DatabaseSchema } from "../db/schema.js";
import { BUMP_GENERATION_SQL, markStale } from "./engine-state.js";
import {
  CREATOR_COLUMNS,
  emptyPlan,
  hashtagsToLookUp,
  observationKeysToLookUp,
  partition,
  planCreators,
  planVideos,
  storedTagsToName,
  VIDEO_COLUMNS,
  VIDEO_TRACKING_COLUMNS,
  type BatchPlan,
  type RowColumns,
  type StoredCreator,
  type StoredState,
  type StoredVideo,
} from "./ingest/batch-plan.js";
import type { ParsedBatch } from "./ingest/observation-batch.js";
import type { IngestReport } from "./ingest-service.js";

/** Stores batches of valid observations, each atomically, and counts them into the report. */
export interface ObservationWriter {
  /** Starts an ingest: drops anything cached from the database, which another writer may have changed. */
  begin(): void;
  /** `strings` is the string table the batch's numbers index into. */
  write(batch: ParsedBatch, strings: readonly string[], report: IngestReport): Promise<void>;
  /** Ends an ingest, whether it completed or not. */
  end(): Promise<void>;
}

function columnNames<R>(columns: RowColumns<R>) {
  return sql.raw(columns.map(([name]) => name).join(", "));
}

/** `rows` as a relation `r` with the columns' names: one array parameter per column. */
function rowsOf<R>(rows: readonly R[], columns: RowColumns<R>) {
  const arrays = columns.map(([name, type]) => sql`${array(rows.map((row) => row[name] as string | number | null))}::${sql.raw(type)}[]`);
  return sql`unnest(${sql.join(arrays)}) as r (${columnNames(columns)})`;
}

/** Every column but the key, set from the relation `r`. */
function settings<R>(columns: RowColumns<R>) {
  return sql.raw(
    columns
      .slice(1)
      .map(([name]) => `${name} = r.${name}`)
      .join(", "),
  );
}

/** Growth of the observations, as a share of the rows counted at the last analysis, after which an ingest analyzes its tables (autovacuum's default). */
const ANALYZE_AFTER_GROWTH = 0.1;

/**
 * Every statement of a batch finds its rows by key. Priced at PostgreSQL's default cost of a random page
 * read (4, for disks that seek), one more day's update of 58,000 stored videos was planned as a scan and
 * hash of all 1.6 million: 1.4-1.6 s, against 0.5-1.0 s for one index descent per video. This sets the
 * usual cost for SSDs and cached indexes, 1.1, for the transaction only, and keeps a lower setting.
 */
export async function preferIndexLookups(trx: Transaction<DatabaseSchema>): Promise<void> {
  await sql`select set_config('random_page_cost', least(current_setting('random_page_cost')::float8, 1.1)::text, true)`.execute(trx);
}

/**
 * The PostgreSQL writer plans and sends a batch's videos in this many parts, so that the server stores
 * each part while the next is planned: one more day's second batch of 58,000 videos, planned whole,
 * left the server idle for 0.2-0.46 s.
 */
const VIDEO_PARTS = 8;
/** How many videos it plans between two turns of the event loop, which sends each statement queued as the one before it ends. */
const SLICE_VIDEOS = 1024;

/** Ingest batches of all processes on one schema take turns: each plans from what the last one stored. */
const INGEST_LOCK_CLASS = 0x7461_6770; // "tagp"

/**
 * The PostgreSQL writer: a dozen set-based statements per batch (arrays bound as parameters and
 * unnested), so that round trips are paid per batch rather than per row.
 */
export function createPostgresObservationWriter(database: Database): ObservationWriter {
  const { db } = database;
  const tagIds = new Map<string, number>();
  // Observations stored by the ingest in progress.
  let inserted = 0;

  async function write(batch: ParsedBatch, strings: readonly string[], report: IngestReport): Promise<void> {
    const { groups } = batch;
    const videoIds: string[] = [];
    for (let g = 0; g < groups.videoCount; g++) videoIds.push(strings[groups.video[g]!]!);
    const usernames: string[] = [];
    for (let c = 0; c < groups.creatorCount; c++) usernames.push(strings[groups.creator[c]!]!);
    // Tag ids interned by a transaction that rolls back name nothing: the catch drops them.
    const plan = await db
      .transaction()
      .execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${INGEST_LOCK_CLASS}, hashtext(current_schema()))`.execute(trx);
        // First, so that this transaction waits for a build's final write, which holds that row, and not the reverse.
        await sql.raw(BUMP_GENERATION_SQL).execute(trx);
        await preferIndexLookups(trx);

        // Both sent at once: the creators are looked up while the videos' rows are read here.
        const videoRows = sql<StoredVideo & { video_id: string }>`
        select ${columnNames(VIDEO_COLUMNS)} from videos where video_id = any(${array(videoIds)}::text[])`.execute(trx);
        const creatorRows = sql<StoredCreator & { username: string }>`
        select ${columnNames(CREATOR_COLUMNS)} from creators where username = any(${array(usernames)}::text[])`.execute(trx);
        creatorRows.catch(() => {}); // awaited below
        const videos = new Map<string, StoredVideo>();
        for (const row of (await videoRows).rows) videos.set(row.video_id, row);
        const creators = new Map<string, StoredCreator>();
        for (const { username, ...creator } of (await creatorRows).rows) creators.set(username, creator);

        // By video, then by time: no key string per observation.
        const views = new Map<string, Map<number, number>>();
        const keys = observationKeysToLookUp(batch, strings, (videoId) => videos.get(videoId));
        if (keys.videoId.length > 0) {
          const rows = await sql<{ video_id: string; observed_at: number; view_count: number }>`
          select o.video_id, o.observed_at, o.view_count
          from observations o
          join unnest(${array(keys.videoId)}::text[], ${array(keys.observedAt)}::bigint[]) as k (video_id, observed_at)
            on o.video_id = k.video_id and o.observed_at = k.observed_at`.execute(trx);
          for (const r of rows.rows) {
            let byTime = views.get(r.video_id);
            if (!byTime) views.set(r.video_id, (byTime = new Map()));
            byTime.set(Number(r.observed_at), r.view_count);
          }
        }

        // Names of stored tags, for the signatures of videos whose latest observations tie with the batch's.
        const tagNames = new Map<number, string>();
        const named = [...storedTagsToName(batch, strings, (videoId) => videos.get(videoId))];
        if (named.length > 0) {
          const rows = await sql<{ id: number; name: string }>`
          select id, name from tags where id = any(${array(named)}::integer[])`.execute(trx);
          for (const row of rows.rows) tagNames.set(row.id, row.name);
        }
        const tagName = (id: number) => tagNames.get(id);

        await internTags(
          trx,
          hashtagsToLookUp(batch, strings, (videoId) => videos.get(videoId), tagName),
        );

        return store(trx, batch, strings, {
          video: (videoId) => videos.get(videoId),
          viewCount: (videoId, observedAt) => views.get(videoId)?.get(observedAt),
          creator: (username) => creators.get(username),
          tagId(name) {
            const id = tagIds.get(name);
            if (id === undefined) throw new Error(`hashtag ${name} was not interned`);
            return id;
          },
          tagName,
        });
      })
      .catch((error: unknown) => {
        tagIds.clear();
        throw error;
      });
    report.accepted += plan.accepted;
    report.duplicate += plan.duplicate;
    inserted += plan.accepted;
  }

  async function internTags(trx: Transaction<DatabaseSchema>, names: Iterable<string>): Promise<void> {
    const missing = [...names].filter((name) => !tagIds.has(name));
    if (missing.length === 0) return;
    const rows = await sql<{ id: number; name: string }>`
      with input as (select unnest(${array(missing)}::text[]) as name),
      added as (
        insert into tags (name) select name from input where not exists (select 1 from tags where tags.name = input.name)
        on conflict (name) do nothing
        returning id, name
      )
      select id, name from added
      union all
      select tags.id, tags.name from tags join input on input.name = tags.name`.execute(trx);
    for (const row of rows.rows) tagIds.set(row.name, row.id);
  }

  /**
   * Plans the batch and sends its statements. The plan knows which rows exist (this transaction holds
   * the ingest lock): plain inserts for new rows, updates for the others, as an upsert's speculative
   * insertion costs more than either. The videos go part by part: the server stores each part while
   * the next is planned. Returns how the batch's observations counted.
   */
  async function store(
    trx: Transaction<DatabaseSchema>,
    batch: ParsedBatch,
    strings: readonly string[],
    state: StoredState,
  ): Promise<Pick<BatchPlan, "accepted" | "duplicate">> {
    // Each statement is sent before the parameters of the next are built, which then overlaps the
    // server's work on it. The connection runs them in order; the first to fail fails the batch.
    const sent: Promise<unknown>[] = [];
    const send = async (statement: RawBuilder<unknown>) => {
      const done = statement.execute(trx);
      done.catch(() => {}); // awaited below, once every statement is sent
      sent.push(done);
      await setImmediate();
    };
    const plan = planCreators(batch, strings, state);
    const videoCount = batch.groups.videoCount;
    const partSize = Math.ceil(videoCount / VIDEO_PARTS);
    for (let from = 0; from < videoCount; from += partSize) {
      const to = Math.min(from + partSize, videoCount);
      const part = emptyPlan();
      for (let slice = from; slice < to; slice += SLICE_VIDEOS) {
        planVideos(part, batch, strings, state, slice, Math.min(slice + SLICE_VIDEOS, to));
        await setImmediate();
      }
      await sendVideos(part, send);
      plan.accepted += part.accepted;
      plan.duplicate += part.duplicate;
      plan.dirtyFrom = Math.min(plan.dirtyFrom, part.dirtyFrom);
      plan.recountFrom = Math.min(plan.recountFrom, part.recountFrom);
      plan.recounted.push(...part.recounted);
    }
    const [newCreators, changedCreators] = partition(plan.creators, plan.creatorIsNew);
    if (newCreators.length > 0) {
      await send(sql`insert into creators (${columnNames(CREATOR_COLUMNS)}) select * from ${rowsOf(newCreators, CREATOR_COLUMNS)}`);
    }
    if (changedCreators.length > 0) {
      await send(sql`update creators c set ${settings(CREATOR_COLUMNS)} from ${rowsOf(changedCreators, CREATOR_COLUMNS)}
        where c.username = r.username`);
    }
    await Promise.all(sent);
    if (plan.dirtyFrom !== Number.POSITIVE_INFINITY) await markStale(trx, "from", plan.dirtyFrom);
    if (plan.recountFrom !== Number.POSITIVE_INFINITY) await markStale(trx, "recountFrom", plan.recountFrom);
    if (plan.recounted.length > 0) {
      const r = plan.recounted;
      // The first change since the charts counted a video keeps the attributes they counted.
      await sql`
        insert into recounted_videos (video_id, create_time, region, tags)
        select * from unnest(${array(r.map((v) => v.video_id))}::text[], ${array(r.map((v) => v.create_time))}::bigint[],
          ${array(r.map((v) => v.region))}::text[], ${array(r.map((v) => v.tags))}::text[])
        on conflict (video_id) do nothing`.execute(trx);
    }
    return plan;
  }

  /** Sends the statements that store a part of a batch's videos: their rows, observations and tags. */
  async function sendVideos(plan: BatchPlan, send: (statement: RawBuilder<unknown>) => Promise<void>): Promise<void> {
    const { inserted, raised } = plan;
    if (inserted.videoId.length > 0) {
      await send(sql`
        insert into observations (video_id, observed_at, view_count)
        select * from unnest(${array(inserted.videoId)}::text[], ${array(inserted.observedAt)}::bigint[], ${array(inserted.viewCount)}::bigint[])`);
    }
    if (raised.videoId.length > 0) {
      await send(sql`
        update observations o set view_count = r.view_count
        from unnest(${array(raised.videoId)}::text[], ${array(raised.observedAt)}::bigint[], ${array(raised.viewCount)}::bigint[])
          as r (video_id, observed_at, view_count)
        where o.video_id = r.video_id and o.observed_at = r.observed_at`);
    }
    if (plan.removedTags.tag.length > 0) {
      await send(sql`
        delete from video_tags using unnest(${array(plan.removedTags.tag)}::integer[], ${array(plan.removedTags.videoId)}::text[]) as r (tag, video_id)
        where video_tags.tag = r.tag and video_tags.video_id = r.video_id`);
    }
    if (plan.addedTags.tag.length > 0) {
      await send(sql`
        insert into video_tags (tag, video_id)
        select * from unnest(${array(plan.addedTags.tag)}::integer[], ${array(plan.addedTags.videoId)}::text[])
        -- In key order, each tag's new rows go to one place of the index.
        order by 1, 2`);
    }
    const [newVideos, storedVideos] = partition(plan.videos, plan.videoIsNew);
    if (newVideos.length > 0) {
      await send(sql`insert into videos (${columnNames(VIDEO_COLUMNS)}) select * from ${rowsOf(newVideos, VIDEO_COLUMNS)}`);
    }
    // Most stored videos keep their attributes: their names, region and tags need not travel again.
    const [tracked, changed] = partition(
      storedVideos,
      plan.videoKeepsAttributes.filter((_, k) => !plan.videoIsNew[k]),
    );
    for (const [rows, columns] of [
      [tracked, VIDEO_TRACKING_COLUMNS],
      [changed, VIDEO_COLUMNS],
    ] as const) {
      if (rows.length === 0) continue;
      await send(sql`update videos v set ${settings(columns)} from ${rowsOf(rows, columns)} where v.video_id = r.video_id`);
    }
  }

  return {
    begin() {
      tagIds.clear();
      inserted = 0;
    },
    write,
    async end() {
      if (inserted === 0) return;
      // The planner's statistics, as autovacuum would refresh them after this many new rows: the
      // engine's reads by time and by publication day need them to use their indexes. (Autovacuum may
      // be off, or not there yet when a build follows the ingest.)
      const stats = await sql<{
        rows: number;
      }>`select reltuples::float8 as rows from pg_class where oid = 'observations'::regclass`.execute(db);
      const known = Number(stats.rows[0]?.rows ?? -1);
      if (known >= 0 && inserted < ANALYZE_AFTER_GROWTH * known) return;
      // Statistics only guide plans: when they cannot be refreshed, the old ones stay and the ingest stands.
      await sql`analyze observations, videos, video_tags, creators, tags`.execute(db).catch(() => undefined);
    },
  };
}
