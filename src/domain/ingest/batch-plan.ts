import { dayOf } from "../../lib/days.js";
import type { RecountedVideosTable, VideosTable } from "../../db/schema.js";
import { observationCreatorSig, observationVideoSig, type ObservationColumns, type ParsedBatch } from "./observation-batch.js";
import { compareTimeAndViews, creatorSigOf, isLater, videoSigOf } from "../observation-order.js";

/** A `videos` row without its key. */
export type StoredVideo = Omit<VideosTable, "video_id">;

/** A creator's display fields, from its latest observation, and when that was. */
export interface StoredCreator {
  nick_name: string | null;
  avatar_url: string | null;
  seen_at: number;
  seen_views: number;
}

export interface VideoRow extends StoredVideo {
  video_id: string;
}

export type RecountedVideo = RecountedVideosTable;

export interface CreatorRow extends StoredCreator {
  username: string;
}

/** A table's columns, the key first, each with its SQL type: one list for every writer's statements on its rows. */
export type RowColumns<R> = readonly (readonly [name: keyof R & string, type: "text" | "bigint"])[];

export const VIDEO_COLUMNS: RowColumns<VideoRow> = [
  ["video_id", "text"],
  ["create_time", "bigint"],
  ["region", "text"],
  ["username", "text"],
  ["tags", "text"],
  ["latest_at", "bigint"],
  ["latest_views", "bigint"],
  ["first_at", "bigint"],
  ["last_at", "bigint"],
  ["peak_views", "bigint"],
  ["peak_before_last_day", "bigint"],
];

/** The attributes a video counts with: a plan's `videoKeepsAttributes` says whether they stay as stored. */
export const VIDEO_ATTRIBUTES: readonly (keyof VideoRow)[] = ["create_time", "region", "username", "tags"];

/** The key and the columns that follow a video's observations: all that a stored video keeping its attributes changes. */
export const VIDEO_TRACKING_COLUMNS: RowColumns<VideoRow> = VIDEO_COLUMNS.filter(([name]) => !VIDEO_ATTRIBUTES.includes(name));

export const CREATOR_COLUMNS: RowColumns<CreatorRow> = [
  ["username", "text"],
  ["nick_name", "text"],
  ["avatar_url", "text"],
  ["seen_at", "bigint"],
  ["seen_views", "bigint"],
];

/**
 * What the database holds before the batch, as far as the plan needs to know. A `slot` is the
 * string's number in the batch's string table: a key for caches, stable until the table starts over.
 */
export interface StoredState {
  video(videoId: string, slot: number): StoredVideo | undefined;
  /** Asked only for times within the stored video's first_at..last_at: nothing is stored outside. */
  viewCount(videoId: string, observedAt: number): number | undefined;
  creator(username: string, slot: number): StoredCreator | undefined;
  /** The id of a hashtag name, interning it when new. */
  tagId(name: string, slot: number): number;
  /**
   * The name of a stored hashtag id. Asked only for the tags of a stored video whose latest observation
   * has the time and views of the batch's latest one (see `storedTagsToName`).
   */
  tagName(id: number): string | undefined;
}

export interface ObservationRows {
  videoId: string[];
  observedAt: number[];
  viewCount: number[];
}

/** Every row one batch changes, and how it counts; each key appears once, so each row is written once. */
export interface BatchPlan {
  accepted: number;
  duplicate: number;
  /** The earliest day whose observed views the batch changes, or +Infinity. */
  dirtyFrom: number;
  /**
   * The earliest day where only how stored views count changes, or +Infinity: the publication day of a
   * new video; every day of a video whose attributes change, from its first.
   */
  recountFrom: number;
  /** Stored videos whose attributes change, with the attributes they had. */
  recounted: RecountedVideo[];
  /** Observations new to the database. */
  inserted: ObservationRows;
  /** Stored observations whose view count the batch raises. */
  raised: ObservationRows;
  /**
   * Videos to insert or update, with the slots of their ids, whether each is new, and whether a stored
   * one keeps its attributes (create_time, region, username, tags): then only its tracking columns change.
   */
  videos: VideoRow[];
  videoSlots: number[];
  videoIsNew: boolean[];
  videoKeepsAttributes: boolean[];
  /** `video_tags` rows to add and to remove: how each written video's tags changed. */
  addedTags: { tag: number[]; videoId: string[] };
  removedTags: { tag: number[]; videoId: string[] };
  /** Creators to insert or update, with the slots of their usernames, and whether each is new. */
  creators: CreatorRow[];
  creatorSlots: number[];
  creatorIsNew: boolean[];
}

/**
 * Decides what one batch changes. Every stored value is a maximum under a total order, so the plan
 * for a batch is the same whatever the order of its observations.
 */
export function planBatch(batch: ParsedBatch, strings: readonly string[], state: StoredState): BatchPlan {
  const plan = planCreators(batch, strings, state);
  planVideos(plan, batch, strings, state, 0, batch.groups.videoCount);
  return plan;
}

/** A plan that changes nothing, to which `planVideos` adds videos. */
export function emptyPlan(): BatchPlan {
  return {
    accepted: 0,
    duplicate: 0,
    dirtyFrom: Number.POSITIVE_INFINITY,
    recountFrom: Number.POSITIVE_INFINITY,
    recounted: [],
    inserted: { videoId: [], observedAt: [], viewCount: [] },
    raised: { videoId: [], observedAt: [], viewCount: [] },
    videos: [],
    videoSlots: [],
    videoIsNew: [],
    videoKeepsAttributes: [],
    addedTags: { tag: [], videoId: [] },
    removedTags: { tag: [], videoId: [] },
    creators: [],
    creatorSlots: [],
    creatorIsNew: [],
  };
}

/**
 * Adds to `plan` what the batch changes of its videos `from` to `to` (their groups' indexes), their
 * observations and their tags. Videos are planned independently of one another, so a batch's videos
 * may be planned part by part, each part's rows written before the next is planned.
 */
export function planVideos(
  plan: BatchPlan,
  batch: ParsedBatch,
  strings: readonly string[],
  state: StoredState,
  from: number,
  to: number,
): void {
  const { observations: columns, groups } = batch;
  const { observedAt, viewCount, hashtagStart, hashtags } = columns;
  let dirtyFrom = plan.dirtyFrom;
  let recountFrom = plan.recountFrom;
  const tagList: number[] = [];
  const tagName = storedTagName(state.tagName);

  for (let g = from; g < to; g++) {
    const slot = groups.video[g]!;
    const videoId = strings[slot]!;
    const stored = state.video(videoId, slot);
    for (let k = groups.timeStart[g]!; k < groups.timeStart[g + 1]!; k++) {
      const at = groups.times[k]!;
      const views = groups.timeViews[k]!;
      const before = stored && at >= stored.first_at && at <= stored.last_at ? state.viewCount(videoId, at) : undefined;
      const rows = before === undefined ? plan.inserted : views > before ? plan.raised : undefined;
      if (before === undefined) plan.accepted++;
      else plan.duplicate++;
      if (!rows) continue;
      rows.videoId.push(videoId);
      rows.observedAt.push(at);
      rows.viewCount.push(views);
      const day = dayOf(at);
      if (day < dirtyFrom) dirtyFrom = day;
    }

    const firstAt = stored && stored.first_at < groups.firstAt[g]! ? stored.first_at : groups.firstAt[g]!;
    const lastAt = stored && stored.last_at > groups.lastAt[g]! ? stored.last_at : groups.lastAt[g]!;
    // Peaks: maxima over every observation stored, the batch's included, and over those before the last day.
    const lastDay = dayOf(lastAt);
    let peakViews = stored ? stored.peak_views : 0;
    let peakBeforeLastDay = !stored ? 0 : dayOf(stored.last_at) < lastDay ? stored.peak_views : stored.peak_before_last_day;
    for (let k = groups.timeStart[g]!; k < groups.timeStart[g + 1]!; k++) {
      const views = groups.timeViews[k]!;
      if (views > peakViews) peakViews = views;
      if (views > peakBeforeLastDay && dayOf(groups.times[k]!) < lastDay) peakBeforeLastDay = views;
    }
    const tracking = { first_at: firstAt, last_at: lastAt, peak_views: peakViews, peak_before_last_day: peakBeforeLastDay };
    const i = groups.videoLatest[g]!;
    if (stored && !replacesVideo(stored, columns, strings, i, tagName)) {
      if (
        firstAt !== stored.first_at ||
        lastAt !== stored.last_at ||
        peakViews !== stored.peak_views ||
        peakBeforeLastDay !== stored.peak_before_last_day
      ) {
        plan.videos.push({ video_id: videoId, ...stored, ...tracking });
        plan.videoSlots.push(slot);
        plan.videoIsNew.push(false);
        plan.videoKeepsAttributes.push(true);
      }
      continue;
    }
    tagList.length = 0;
    for (let k = hashtagStart[i]!; k < hashtagStart[i + 1]!; k++) tagList.push(state.tagId(strings[hashtags[k]!]!, hashtags[k]!));
    const tags = tagsText(tagList);
    const createTime = columns.createTime[i]!;
    const region = strings[columns.region[i]!]!;
    const username = strings[columns.username[i]!]!;
    plan.videos.push({
      video_id: videoId,
      create_time: createTime,
      region,
      username,
      tags,
      latest_at: observedAt[i]!,
      latest_views: viewCount[i]!,
      ...tracking,
    });
    plan.videoSlots.push(slot);
    plan.videoIsNew.push(!stored);
    plan.videoKeepsAttributes.push(
      stored?.create_time === createTime && stored.region === region && stored.username === username && stored.tags === tags,
    );
    // A new video adds a publication on its day; its views are on its observations' days, counted above.
    if (!stored) recountFrom = Math.min(recountFrom, dayOf(createTime));
    else if (stored.create_time !== createTime || stored.region !== region || stored.tags !== tags) {
      // New attributes move every view the video ever gained, and its publication.
      recountFrom = Math.min(recountFrom, dayOf(stored.create_time), dayOf(createTime), dayOf(firstAt));
      plan.recounted.push({ video_id: videoId, create_time: stored.create_time, region: stored.region, tags: stored.tags });
    }
    if (stored?.tags === tags) continue;
    // `video_tags` mirrors `videos.tags`: the stored list says which rows exist.
    const before = stored ? storedTags(stored) : [];
    for (const tag of tagList) {
      if (before.includes(tag)) continue;
      plan.addedTags.tag.push(tag);
      plan.addedTags.videoId.push(videoId);
    }
    for (const tag of before) {
      if (tagList.includes(tag)) continue;
      plan.removedTags.tag.push(tag);
      plan.removedTags.videoId.push(videoId);
    }
  }
  plan.dirtyFrom = dirtyFrom;
  plan.recountFrom = recountFrom;
}

/** The plan of the batch's creators, its lines repeated within it counted as duplicates; `planVideos` adds its videos. */
export function planCreators(batch: ParsedBatch, strings: readonly string[], state: StoredState): BatchPlan {
  const { observations: columns, groups } = batch;
  const { observedAt, viewCount } = columns;
  const plan = emptyPlan();
  plan.duplicate = groups.repeated;
  for (let c = 0; c < groups.creatorCount; c++) {
    const slot = groups.creator[c]!;
    const username = strings[slot]!;
    const i = groups.creatorLatest[c]!;
    const stored = state.creator(username, slot);
    const later =
      !stored ||
      isLater(
        observedAt[i]!,
        viewCount[i]!,
        () => observationCreatorSig(columns, strings, i),
        stored.seen_at,
        stored.seen_views,
        () => creatorSigOf(stored.nick_name, stored.avatar_url),
      );
    if (!later) continue;
    plan.creators.push({
      username,
      nick_name: columns.nickName[i]! < 0 ? null : strings[columns.nickName[i]!]!,
      avatar_url: columns.avatarUrl[i]! < 0 ? null : strings[columns.avatarUrl[i]!]!,
      seen_at: observedAt[i]!,
      seen_views: viewCount[i]!,
    });
    plan.creatorSlots.push(slot);
    plan.creatorIsNew.push(!stored);
  }
  return plan;
}

/**
 * Whether observation i, a video's latest in the batch, comes after the stored latest one under the total
 * order. The stored row's attributes are those of its latest observation: they give its signature.
 */
function replacesVideo(
  stored: StoredVideo,
  columns: ObservationColumns,
  strings: readonly string[],
  i: number,
  name: (id: number) => string,
): boolean {
  return isLater(
    columns.observedAt[i]!,
    columns.viewCount[i]!,
    () => observationVideoSig(columns, strings, i),
    stored.latest_at,
    stored.latest_views,
    () => videoSigOf(stored.create_time, stored.region, storedTags(stored).map(name), stored.username),
  );
}

/** `tagName` for tags a stored video carries: a name must be there. */
function storedTagName(tagName: StoredState["tagName"]): (id: number) => string {
  return (id) => {
    const name = tagName(id);
    if (name === undefined) throw new Error(`hashtag id ${id} is stored for a video but not in tags`);
    return name;
  };
}

/** A stored video's tag ids. */
function storedTags(stored: StoredVideo): number[] {
  return stored.tags === "" ? [] : stored.tags.split(",").map(Number);
}

/**
 * The tag ids whose names `planBatch` may ask for: those of stored videos whose latest observation has
 * the time and views of the batch's latest one, so that only the signatures can tell which is later.
 */
export function storedTagsToName(
  batch: ParsedBatch,
  strings: readonly string[],
  video: (videoId: string) => StoredVideo | undefined,
): Set<number> {
  const ids = new Set<number>();
  const { observedAt, viewCount } = batch.observations;
  eachStoredVideo(batch, strings, video, (stored, _, i) => {
    if (compareTimeAndViews(observedAt[i]!, viewCount[i]!, stored.latest_at, stored.latest_views) !== 0) return;
    for (const id of storedTags(stored)) ids.add(id);
  });
  return ids;
}

/**
 * Visits each video of the batch that `video` finds stored, with its group and its latest observation
 * in the batch; `visitNew`, when given, visits the others.
 */
function eachStoredVideo(
  batch: ParsedBatch,
  strings: readonly string[],
  video: (videoId: string) => StoredVideo | undefined,
  visit: (stored: StoredVideo, g: number, i: number, videoId: string) => void,
  visitNew?: (g: number, i: number) => void,
): void {
  const { groups } = batch;
  for (let g = 0; g < groups.videoCount; g++) {
    const videoId = strings[groups.video[g]!]!;
    const stored = video(videoId);
    if (stored) visit(stored, g, groups.videoLatest[g]!, videoId);
    else visitNew?.(g, groups.videoLatest[g]!);
  }
}

/** `videos.tags`: the ids ascending, comma-separated (sorts `ids`). Most videos have one to three tags. */
function tagsText(ids: number[]): string {
  if (ids.length === 1) return String(ids[0]);
  if (ids.length === 2) {
    const [a, b] = ids as [number, number];
    if (a > b) {
      ids[0] = b;
      ids[1] = a;
    }
    return `${ids[0]},${ids[1]}`;
  }
  // Insertion sort: a handful of ids, and Array.prototype.sort allocates a work area on every call.
  for (let i = 1; i < ids.length; i++) {
    const id = ids[i]!;
    let j = i - 1;
    for (; j >= 0 && ids[j]! > id; j--) ids[j + 1] = ids[j]!;
    ids[j + 1] = id;
  }
  return ids.join(",");
}

/** The (video, time) pairs whose stored view counts `planBatch` will ask for. */
export function observationKeysToLookUp(
  batch: ParsedBatch,
  strings: readonly string[],
  video: (videoId: string) => StoredVideo | undefined,
): { videoId: string[]; observedAt: number[] } {
  const keys = { videoId: [] as string[], observedAt: [] as number[] };
  const { groups } = batch;
  eachStoredVideo(batch, strings, video, (stored, g, _, videoId) => {
    for (let k = groups.timeStart[g]!; k < groups.timeStart[g + 1]!; k++) {
      const at = groups.times[k]!;
      if (at < stored.first_at || at > stored.last_at) continue;
      keys.videoId.push(videoId);
      keys.observedAt.push(at);
    }
  });
  return keys;
}

/** The hashtag names whose ids `planBatch` may ask for: those of videos whose attributes the batch replaces. */
export function hashtagsToLookUp(
  batch: ParsedBatch,
  strings: readonly string[],
  video: (videoId: string) => StoredVideo | undefined,
  tagName: StoredState["tagName"],
): Set<string> {
  const names = new Set<string>();
  const columns = batch.observations;
  const name = storedTagName(tagName);
  const add = (i: number) => {
    for (let k = columns.hashtagStart[i]!; k < columns.hashtagStart[i + 1]!; k++) names.add(strings[columns.hashtags[k]!]!);
  };
  eachStoredVideo(
    batch,
    strings,
    video,
    (stored, _, i) => {
      if (replacesVideo(stored, columns, strings, i, name)) add(i);
    },
    (_, i) => add(i),
  );
  return names;
}

/** Splits `items` into those flagged and the others, for example new rows and changed ones. */
export function partition<T>(items: readonly T[], flags: readonly boolean[]): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  items.forEach((item, i) => (flags[i] ? yes : no).push(item));
  return [yes, no];
}
