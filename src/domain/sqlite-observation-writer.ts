import type SqliteDatabase from "better-sqlite3";
import { dayOf } from "../lib/days.js";
import type { IngestReport } from "./ingest-service.js";
import type { Observation } from "./observation.js";
import { compareKeys, creatorSig, videoSig, type Key } from "./observation-order.js";
import type { ObservationWriter } from "./observation-writer.js";

interface VideoState {
  create_time: number;
  region: string;
  username: string;
  tags: string;
  latest_at: number;
  latest_views: number;
  latest_sig: string;
  first_at: number;
  last_at: number;
}

/** Videos recently written stay in memory: a file revisits each video several times within days. */
const VIDEO_CACHE_SIZE = 400_000;

/**
 * The SQLite writer: synchronous prepared statements, one transaction per batch. Makes the same
 * decisions as the batch writer, one observation at a time.
 */
export function createSqliteObservationWriter(sqlite: SqliteDatabase.Database): ObservationWriter {
  const insertObservation = sqlite.prepare("insert or ignore into observations (video_id, observed_at, view_count) values (?, ?, ?)");
  const raiseObservation = sqlite.prepare(
    "update observations set view_count = ? where video_id = ? and observed_at = ? and view_count < ?",
  );
  const selectVideo = sqlite.prepare<[string], VideoState>(
    "select create_time, region, username, tags, latest_at, latest_views, latest_sig, first_at, last_at from videos where video_id = ?",
  );
  const upsertVideo = sqlite.prepare(
    `insert into videos (video_id, create_time, region, username, tags, latest_at, latest_views, latest_sig, first_at, last_at)
     values (@video_id, @create_time, @region, @username, @tags, @latest_at, @latest_views, @latest_sig, @first_at, @last_at)
     on conflict (video_id) do update set create_time = excluded.create_time, region = excluded.region,
       username = excluded.username, tags = excluded.tags, latest_at = excluded.latest_at,
       latest_views = excluded.latest_views, latest_sig = excluded.latest_sig, first_at = excluded.first_at,
       last_at = excluded.last_at`,
  );
  const insertVideoTag = sqlite.prepare("insert or ignore into video_tags (tag, video_id) values (?, ?)");
  const deleteVideoTags = sqlite.prepare("delete from video_tags where video_id = ?");
  const selectCreator = sqlite.prepare<[string], { seen_at: number; seen_views: number; seen_sig: string }>(
    "select seen_at, seen_views, seen_sig from creators where username = ?",
  );
  const upsertCreator = sqlite.prepare(
    `insert into creators (username, nick_name, avatar_url, seen_at, seen_views, seen_sig) values (?, ?, ?, ?, ?, ?)
     on conflict (username) do update set nick_name = excluded.nick_name, avatar_url = excluded.avatar_url,
       seen_at = excluded.seen_at, seen_views = excluded.seen_views, seen_sig = excluded.seen_sig`,
  );
  const selectTag = sqlite.prepare<[string], { id: number }>("select id from tags where name = ?");
  const insertTag = sqlite.prepare<[string], { id: number }>("insert into tags (name) values (?) returning id");
  const selectDirty = sqlite.prepare<[], { value: string }>("select value from engine_state where key = 'dirty_from'");
  const upsertDirty = sqlite.prepare(
    "insert into engine_state (key, value) values ('dirty_from', ?) on conflict (key) do update set value = excluded.value",
  );

  const tagIds = new Map<string, number>();
  const videos = new Map<string, VideoState>();
  const creators = new Map<string, Key>();

  const tagId = (name: string): number => {
    let id = tagIds.get(name);
    if (id === undefined) {
      id = (selectTag.get(name) ?? insertTag.get(name)!).id;
      tagIds.set(name, id);
    }
    return id;
  };

  const writeBatch = sqlite.transaction((batch: readonly Observation[], report: IngestReport) => {
    let dirtyFrom = Number.POSITIVE_INFINITY;
    for (const obs of batch) {
      const at = obs.observedAt;
      if (insertObservation.run(obs.videoId, at, obs.viewCount).changes === 1) {
        report.accepted++;
        dirtyFrom = Math.min(dirtyFrom, dayOf(at));
      } else {
        report.duplicate++;
        if (raiseObservation.run(obs.viewCount, obs.videoId, at, obs.viewCount).changes === 1) dirtyFrom = Math.min(dirtyFrom, dayOf(at));
      }

      const sig = videoSig(obs);
      const old = videos.get(obs.videoId) ?? selectVideo.get(obs.videoId);
      const tagList = obs.hashtags.map(tagId).sort((a, b) => a - b);
      const tags = tagList.join(",");
      let state: VideoState;
      if (!old) {
        state = {
          create_time: obs.createTime,
          region: obs.region,
          username: obs.username,
          tags,
          latest_at: at,
          latest_views: obs.viewCount,
          latest_sig: sig,
          first_at: at,
          last_at: at,
        };
        dirtyFrom = Math.min(dirtyFrom, dayOf(obs.createTime));
        for (const tag of tagList) insertVideoTag.run(tag, obs.videoId);
        upsertVideo.run({ video_id: obs.videoId, ...state });
      } else {
        const newer = compareKeys([at, obs.viewCount, sig], [old.latest_at, old.latest_views, old.latest_sig]) > 0;
        const firstAt = Math.min(old.first_at, at);
        const lastAt = Math.max(old.last_at, at);
        if (newer) {
          state = {
            create_time: obs.createTime,
            region: obs.region,
            username: obs.username,
            tags,
            latest_at: at,
            latest_views: obs.viewCount,
            latest_sig: sig,
            first_at: firstAt,
            last_at: lastAt,
          };
          if (old.create_time !== obs.createTime || old.region !== obs.region || old.tags !== tags) {
            // New attributes move every view the video ever gained: stale from its first day.
            dirtyFrom = Math.min(dirtyFrom, dayOf(old.create_time), dayOf(obs.createTime), dayOf(firstAt));
          }
          if (old.tags !== tags) {
            deleteVideoTags.run(obs.videoId);
            for (const tag of tagList) insertVideoTag.run(tag, obs.videoId);
          }
          upsertVideo.run({ video_id: obs.videoId, ...state });
        } else if (firstAt !== old.first_at || lastAt !== old.last_at) {
          state = { ...old, first_at: firstAt, last_at: lastAt };
          upsertVideo.run({ video_id: obs.videoId, ...state });
        } else {
          state = old;
        }
      }
      videos.delete(obs.videoId);
      videos.set(obs.videoId, state);

      const profile = creatorSig(obs);
      const seen = creators.get(obs.username) ?? toKey(selectCreator.get(obs.username));
      const key: Key = [at, obs.viewCount, profile];
      if (!seen || compareKeys(key, seen) > 0) {
        upsertCreator.run(obs.username, obs.nickName, obs.avatarUrl, at, obs.viewCount, profile);
        creators.set(obs.username, key);
      } else if (!creators.has(obs.username)) creators.set(obs.username, seen);
    }
    if (dirtyFrom !== Number.POSITIVE_INFINITY) {
      const current = selectDirty.get();
      if (!current || Number(current.value) > dirtyFrom) upsertDirty.run(String(dirtyFrom));
    }
    if (videos.size > VIDEO_CACHE_SIZE) {
      let drop = videos.size - VIDEO_CACHE_SIZE / 2;
      for (const id of videos.keys()) {
        if (drop-- <= 0) break;
        videos.delete(id);
      }
    }
  });

  return {
    async write(batch, report) {
      try {
        writeBatch(batch, report);
      } catch (error) {
        forget();
        throw error;
      }
    },
    forget,
  };

  function forget() {
    videos.clear();
    creators.clear();
    tagIds.clear();
  }
}

function toKey(row: { seen_at: number; seen_views: number; seen_sig: string } | undefined): Key | undefined {
  return row ? [row.seen_at, row.seen_views, row.seen_sig] : undefined;
}
