import type { Transaction } from "kysely";
import type { Database } from "../db/database.js";
import type { DatabaseSchema, VideosTable } from "../db/schema.js";
import { dayOf } from "../lib/days.js";
import { chunks } from "../lib/order.js";
import { markDirtyFrom } from "./engine-state.js";
import type { IngestReport } from "./ingest-service.js";
import type { Observation } from "./observation.js";
import { compareKeys, creatorSig, videoSig } from "./observation-order.js";

/** Stores one batch of valid observations atomically and counts them into the report. */
export interface ObservationWriter {
  write(batch: readonly Observation[], report: IngestReport): Promise<void>;
  /** Drops anything cached from the database: another writer may have changed it since. */
  forget(): void;
}

/**
 * The portable writer: a few set-based statements per batch through Kysely, so that a network round
 * trip is paid per batch rather than per observation (PostgreSQL).
 */
export function createBatchObservationWriter(database: Database): ObservationWriter {
  const { db, maxParams } = database;
  const tagIds = new Map<string, number>();

  async function internTags(trx: Transaction<DatabaseSchema>, names: Iterable<string>): Promise<void> {
    const missing = [...new Set(names)].filter((name) => !tagIds.has(name));
    if (missing.length === 0) return;
    for (const part of chunks(missing, Math.floor(maxParams / 2))) {
      await trx.insertInto("tags").values(part.map((name) => ({ name }))).onConflict((oc) => oc.column("name").doNothing()).execute();
      const rows = await trx.selectFrom("tags").select(["id", "name"]).where("name", "in", part).execute();
      for (const row of rows) tagIds.set(row.name, row.id);
    }
  }

  async function write(batch: readonly Observation[], report: IngestReport): Promise<void> {
    // Within the batch, the same (id, observed_at) is one observation: keep the larger view count.
    const kept = new Map<string, { obs: Observation; sig: string }>();
    for (const obs of batch) {
      const key = `${obs.videoId}|${obs.observedAt}`;
      const sig = videoSig(obs);
      const other = kept.get(key);
      if (!other) kept.set(key, { obs, sig });
      else {
        report.duplicate++;
        if (compareKeys([0, obs.viewCount, sig], [0, other.obs.viewCount, other.sig]) > 0) kept.set(key, { obs, sig });
      }
    }

    const videoIds = [...new Set(batch.map((o) => o.videoId))];
    const usernames = [...new Set(batch.map((o) => o.username))];

    await db.transaction().execute(async (trx) => {
      const existingViews = new Map<string, number>();
      const existingVideos = new Map<string, VideosTable>();
      const existingCreators = new Map<string, { seen_at: number; seen_views: number; seen_sig: string }>();
      for (const part of chunks(videoIds, maxParams)) {
        const obsRows = await trx
          .selectFrom("observations")
          .select(["video_id", "observed_at", "view_count"])
          .where("video_id", "in", part)
          .execute();
        for (const r of obsRows) existingViews.set(`${r.video_id}|${r.observed_at}`, r.view_count);
        const videoRows = await trx.selectFrom("videos").selectAll().where("video_id", "in", part).execute();
        for (const r of videoRows) existingVideos.set(r.video_id, r);
      }
      for (const part of chunks(usernames, maxParams)) {
        const rows = await trx
          .selectFrom("creators")
          .select(["username", "seen_at", "seen_views", "seen_sig"])
          .where("username", "in", part)
          .execute();
        for (const r of rows) existingCreators.set(r.username, r);
      }

      let dirtyFrom = Number.POSITIVE_INFINITY;
      const observationRows: { video_id: string; observed_at: number; view_count: number }[] = [];
      // The latest observation of each video in this batch, under the total order.
      const latest = new Map<string, { obs: Observation; sig: string; first: number; last: number }>();
      for (const [key, { obs, sig }] of kept) {
        const before = existingViews.get(key);
        if (before === undefined) report.accepted++;
        else report.duplicate++;
        if (before === undefined || obs.viewCount > before) {
          observationRows.push({ video_id: obs.videoId, observed_at: obs.observedAt, view_count: obs.viewCount });
          dirtyFrom = Math.min(dirtyFrom, dayOf(obs.observedAt));
        }
        const current = latest.get(obs.videoId);
        if (!current) latest.set(obs.videoId, { obs, sig, first: obs.observedAt, last: obs.observedAt });
        else {
          current.first = Math.min(current.first, obs.observedAt);
          current.last = Math.max(current.last, obs.observedAt);
          if (compareKeys([obs.observedAt, obs.viewCount, sig], [current.obs.observedAt, current.obs.viewCount, current.sig]) > 0) {
            current.obs = obs;
            current.sig = sig;
          }
        }
      }

      const newerObs = [...latest.entries()].filter(([videoId, { obs, sig }]) => {
        const old = existingVideos.get(videoId);
        return !old || compareKeys([obs.observedAt, obs.viewCount, sig], [old.latest_at, old.latest_views, old.latest_sig]) > 0;
      });
      await internTags(trx, newerObs.flatMap(([, { obs }]) => obs.hashtags));
      const newer = new Set(newerObs.map(([videoId]) => videoId));

      const videoRows: VideosTable[] = [];
      const videoTagRows: { tag: number; video_id: string }[] = [];
      const retagged: string[] = [];
      for (const [videoId, { obs, sig, first, last }] of latest) {
        const old = existingVideos.get(videoId);
        const firstAt = old ? Math.min(old.first_at, first) : first;
        const lastAt = old ? Math.max(old.last_at, last) : last;
        if (!newer.has(videoId)) {
          if (old && (firstAt !== old.first_at || lastAt !== old.last_at)) videoRows.push({ ...old, first_at: firstAt, last_at: lastAt });
          continue;
        }
        const tagList = obs.hashtags.map((name) => tagIds.get(name)!).sort((a, b) => a - b);
        const tags = tagList.join(",");
        videoRows.push({
          video_id: videoId,
          create_time: obs.createTime,
          region: obs.region,
          username: obs.username,
          tags,
          latest_at: obs.observedAt,
          latest_views: obs.viewCount,
          latest_sig: sig,
          first_at: firstAt,
          last_at: lastAt,
        });
        if (!old) dirtyFrom = Math.min(dirtyFrom, dayOf(obs.createTime));
        else if (old.create_time !== obs.createTime || old.region !== obs.region || old.tags !== tags) {
          // New attributes move every view the video ever gained: stale from its first day.
          dirtyFrom = Math.min(dirtyFrom, dayOf(old.create_time), dayOf(obs.createTime), dayOf(firstAt));
        }
        if (old?.tags === tags) continue;
        if (old) retagged.push(videoId);
        for (const tag of tagList) videoTagRows.push({ tag, video_id: videoId });
      }

      for (const part of chunks(retagged, maxParams)) {
        await trx.deleteFrom("video_tags").where("video_id", "in", part).execute();
      }
      for (const part of chunks(videoTagRows, Math.floor(maxParams / 2))) {
        await trx.insertInto("video_tags").values(part).onConflict((oc) => oc.doNothing()).execute();
      }
      for (const part of chunks(videoRows, Math.floor(maxParams / 10))) {
        await trx.insertInto("videos").values(part).onConflict((oc) =>
          oc.column("video_id").doUpdateSet((eb) => ({
            create_time: eb.ref("excluded.create_time"),
            region: eb.ref("excluded.region"),
            username: eb.ref("excluded.username"),
            tags: eb.ref("excluded.tags"),
            latest_at: eb.ref("excluded.latest_at"),
            latest_views: eb.ref("excluded.latest_views"),
            latest_sig: eb.ref("excluded.latest_sig"),
            first_at: eb.ref("excluded.first_at"),
            last_at: eb.ref("excluded.last_at"),
          }))
        ).execute();
      }
      for (const part of chunks(observationRows, Math.floor(maxParams / 3))) {
        await trx.insertInto("observations").values(part).onConflict((oc) => oc.columns(["video_id", "observed_at"]).doUpdateSet((eb) => ({ view_count: eb.ref("excluded.view_count") }))).execute();
      }

      // A creator's display fields come from its latest observation, under the same total order.
      const creatorRows = new Map<string, { username: string; nick_name: string | null; avatar_url: string | null; seen_at: number; seen_views: number; seen_sig: string }>();
      for (const obs of batch) {
        const sig = creatorSig(obs);
        const best = creatorRows.get(obs.username) ?? existingCreators.get(obs.username);
        if (best && compareKeys([obs.observedAt, obs.viewCount, sig], [best.seen_at, best.seen_views, best.seen_sig]) <= 0) continue;
        creatorRows.set(obs.username, {
          username: obs.username,
          nick_name: obs.nickName,
          avatar_url: obs.avatarUrl,
          seen_at: obs.observedAt,
          seen_views: obs.viewCount,
          seen_sig: sig,
        });
      }
      for (const part of chunks([...creatorRows.values()], Math.floor(maxParams / 6))) {
        await trx.insertInto("creators").values(part).onConflict((oc) =>
          oc.column("username").doUpdateSet((eb) => ({
            nick_name: eb.ref("excluded.nick_name"),
            avatar_url: eb.ref("excluded.avatar_url"),
            seen_at: eb.ref("excluded.seen_at"),
            seen_views: eb.ref("excluded.seen_views"),
            seen_sig: eb.ref("excluded.seen_sig"),
          }))
        ).execute();
      }
      if (dirtyFrom !== Number.POSITIVE_INFINITY) await markDirtyFrom(trx, dirtyFrom);
    });
  }

  return { write, forget: () => tagIds.clear() };
}
