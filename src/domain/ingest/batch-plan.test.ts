import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dayOf } from "../../lib/days.js";
import { compareUtf8 } from "../../lib/order.js";
import type { Observation } from "../observation.js";
import { creatorSig, videoSig } from "../observation-order.js";
import {
  emptyPlan,
  hashtagsToLookUp,
  observationKeysToLookUp,
  planBatch,
  planCreators,
  planVideos,
  storedTagsToName,
  type BatchPlan,
  type RecountedVideo,
  type StoredCreator,
  type StoredVideo,
} from "./batch-plan.js";
import { createBatchBuilder, createStringTable } from "./observation-batch.js";

const DAY = 86_400;

const observationArbitrary: fc.Arbitrary<Observation> = fc.record({
  videoId: fc.constantFrom("1", "2", "3", "4"),
  createTime: fc.constantFrom(10 * DAY, 11 * DAY + 5),
  region: fc.constantFrom("US", "GB"),
  hashtags: fc.uniqueArray(fc.constantFrom("a", "b", "é"), { maxLength: 3 }).map((tags) => tags.sort()),
  username: fc.constantFrom("ana", "zed"),
  viewCount: fc.integer({ min: 0, max: 3 }),
  observedAt: fc.integer({ min: 12 * DAY, max: 12 * DAY + 3 }).map((at) => (at % 2 === 0 ? at : at + 2 * DAY)),
  nickName: fc.constantFrom(null, "Ana", "ÄNA"),
  avatarUrl: fc.constantFrom(null, "https://a.example/1.png"),
});

/** An in-memory database: the rows a sequence of plans leaves behind. */
class Store {
  views = new Map<string, number>();
  videos = new Map<string, StoredVideo>();
  creators = new Map<string, StoredCreator>();
  tags = new Map<string, number>();
  videoTags = new Set<string>();

  state() {
    return {
      video: (id: string) => this.videos.get(id),
      viewCount: (id: string, at: number) => this.views.get(`${id}|${at}`),
      creator: (username: string) => this.creators.get(username),
      // Ids count down as names come: their order is not the names' order.
      tagId: (name: string) => {
        if (!this.tags.has(name)) this.tags.set(name, 100 - this.tags.size);
        return this.tags.get(name)!;
      },
      tagName: (id: number) => [...this.tags].find(([, tag]) => tag === id)?.[0],
    };
  }
}

function ingest(store: Store, batches: Observation[][]) {
  const builder = createBatchBuilder(4);
  const table = createStringTable();
  const results = [];
  for (const observations of batches) {
    for (const o of observations) builder.add(o);
    const batch = builder.take();
    table.apply(batch);
    // Exercised for PostgreSQL, which fetches these sets before planning.
    const keys = observationKeysToLookUp(batch, table.strings, (id) => store.videos.get(id));
    const state = store.state();
    const named = storedTagsToName(batch, table.strings, (id) => store.videos.get(id));
    const tagName = (id: number) => {
      expect(named.has(id)).toBe(true);
      return state.tagName(id);
    };
    const names = hashtagsToLookUp(batch, table.strings, (id) => store.videos.get(id), tagName);
    const before = { videos: new Map(store.videos), views: new Map(store.views) };
    let viewLookups = 0;
    const plan = planBatch(batch, table.strings, {
      ...state,
      viewCount: (id, at) => {
        viewLookups++;
        expect(keys.videoId.some((k, i) => k === id && keys.observedAt[i] === at)).toBe(true);
        return state.viewCount(id, at);
      },
      tagId: (name) => {
        expect(names.has(name)).toBe(true);
        return state.tagId(name);
      },
      tagName,
    });
    expect(viewLookups).toBeLessThanOrEqual(keys.videoId.length);
    for (const rows of [plan.inserted, plan.raised]) {
      rows.videoId.forEach((id, i) => store.views.set(`${id}|${rows.observedAt[i]}`, rows.viewCount[i]!));
    }
    for (const { video_id, ...video } of plan.videos) store.videos.set(video_id, video);
    plan.removedTags.tag.forEach((tag, i) => expect(store.videoTags.delete(`${tag}|${plan.removedTags.videoId[i]}`)).toBe(true));
    plan.addedTags.tag.forEach((tag, i) => {
      expect(store.videoTags.has(`${tag}|${plan.addedTags.videoId[i]}`)).toBe(false);
      store.videoTags.add(`${tag}|${plan.addedTags.videoId[i]}`);
    });
    for (const { username, ...creator } of plan.creators) store.creators.set(username, creator);
    results.push({ plan, before, after: { videos: new Map(store.videos), views: new Map(store.views) }, observations });
  }
  return results;
}

const later = (a: Observation, b: Observation, sig: (o: Observation) => string) =>
  a.observedAt - b.observedAt || a.viewCount - b.viewCount || compareUtf8(sig(a), sig(b));

describe("planBatch", () => {
  it("leaves the rows of the latest observations, and each video's peak views overall and before its last day, whatever the batching", () => {
    fc.assert(
      fc.property(fc.array(fc.array(observationArbitrary, { maxLength: 12 }), { maxLength: 5 }), (batches) => {
        const store = new Store();
        const results = ingest(store, batches);
        const all = batches.flat();

        const views = new Map<string, number>();
        for (const o of all)
          views.set(`${o.videoId}|${o.observedAt}`, Math.max(o.viewCount, views.get(`${o.videoId}|${o.observedAt}`) ?? -1));
        expect(store.views).toEqual(views);
        expect(results.reduce((sum, r) => sum + r.plan.accepted, 0)).toBe(views.size);
        expect(results.reduce((sum, r) => sum + r.plan.accepted + r.plan.duplicate, 0)).toBe(all.length);

        for (const id of new Set(all.map((o) => o.videoId))) {
          const mine = all.filter((o) => o.videoId === id);
          const latest = mine.reduce((a, b) => (later(b, a, videoSig) > 0 ? b : a));
          const tagIds = latest.hashtags.map((name) => store.tags.get(name)!).sort((a, b) => a - b);
          const lastAt = Math.max(...mine.map((o) => o.observedAt));
          expect(store.videos.get(id)).toEqual({
            create_time: latest.createTime,
            region: latest.region,
            username: latest.username,
            tags: tagIds.join(","),
            latest_at: latest.observedAt,
            latest_views: latest.viewCount,
            first_at: Math.min(...mine.map((o) => o.observedAt)),
            last_at: lastAt,
            peak_views: Math.max(...mine.map((o) => o.viewCount)),
            peak_before_last_day: Math.max(0, ...mine.filter((o) => dayOf(o.observedAt) < dayOf(lastAt)).map((o) => o.viewCount)),
          });
          for (const tag of tagIds) expect(store.videoTags.has(`${tag}|${id}`)).toBe(true);
        }
        expect(store.videoTags.size).toBe(
          [...store.videos.values()].reduce((n, v) => n + (v.tags === "" ? 0 : v.tags.split(",").length), 0),
        );

        for (const username of new Set(all.map((o) => o.username))) {
          const latest = all.filter((o) => o.username === username).reduce((a, b) => (later(b, a, creatorSig) > 0 ? b : a));
          expect(store.creators.get(username)).toEqual({
            nick_name: latest.nickName,
            avatar_url: latest.avatarUrl,
            seen_at: latest.observedAt,
            seen_views: latest.viewCount,
          });
        }
      }),
    );
  });

  const sortedById = (videos: RecountedVideo[]) => [...videos].sort((a, b) => compareUtf8(a.video_id, b.video_id));

  it("marks stale the days of changed views, and apart the days to recount: of new videos, and all of a changed one", () => {
    fc.assert(
      fc.property(fc.array(fc.array(observationArbitrary, { maxLength: 12 }), { maxLength: 5 }), (batches) => {
        const store = new Store();
        for (const { plan, before, after, observations } of ingest(store, batches)) {
          const days: number[] = [];
          const recount: number[] = [];
          const recounted: RecountedVideo[] = [];
          for (const [key, views] of after.views) {
            if (before.views.get(key) !== views) days.push(dayOf(Number(key.split("|")[1])));
          }
          for (const [id, video] of after.videos) {
            const old = before.videos.get(id);
            if (!old) recount.push(dayOf(video.create_time));
            else if (old.create_time !== video.create_time || old.region !== video.region || old.tags !== video.tags) {
              recount.push(dayOf(old.create_time), dayOf(video.create_time), dayOf(video.first_at));
              recounted.push({ video_id: id, create_time: old.create_time, region: old.region, tags: old.tags });
            }
          }
          expect(plan.dirtyFrom).toBe(Math.min(Number.POSITIVE_INFINITY, ...days));
          expect(plan.recountFrom).toBe(Math.min(Number.POSITIVE_INFINITY, ...recount));
          expect(sortedById(plan.recounted)).toEqual(sortedById(recounted));
          if (observations.length === 0) expect(plan.videos).toEqual([]);
        }
      }),
    );
  });

  it("plans in parts, the creators then the videos a few at a time, what it plans for the whole batch", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(observationArbitrary, { maxLength: 12 }), { maxLength: 4 }),
        fc.array(observationArbitrary, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (earlier, last, cuts) => {
          const store = new Store();
          ingest(store, earlier);
          const builder = createBatchBuilder(4);
          const table = createStringTable();
          for (const o of last) builder.add(o);
          const batch = builder.take();
          table.apply(batch);
          const state = store.state();
          const whole = planBatch(batch, table.strings, state);

          const count = batch.groups.videoCount;
          const bounds = [...new Set([0, ...cuts.map((c) => c % (count + 1)), count])].sort((a, b) => a - b);
          const parts = [planCreators(batch, table.strings, state)];
          for (let k = 1; k < bounds.length; k++) {
            const part = emptyPlan();
            planVideos(part, batch, table.strings, state, bounds[k - 1]!, bounds[k]!);
            parts.push(part);
          }
          expect(merged(parts)).toEqual(whole);
        },
      ),
    );
  });

  it("counts a repeated observation once, as a duplicate, within a batch and across batches", () => {
    const o: Observation = {
      videoId: "7",
      createTime: 10 * DAY,
      region: "US",
      hashtags: ["a"],
      username: "ana",
      viewCount: 5,
      observedAt: 12 * DAY,
      nickName: null,
      avatarUrl: null,
    };
    const store = new Store();
    const [first, second] = ingest(store, [
      [o, { ...o, viewCount: 9 }],
      [
        { ...o, viewCount: 7 },
        { ...o, observedAt: 13 * DAY },
      ],
    ]);
    expect([first!.plan.accepted, first!.plan.duplicate]).toEqual([1, 1]);
    expect([second!.plan.accepted, second!.plan.duplicate]).toEqual([1, 1]);
    expect(second!.plan.raised.videoId).toEqual([]);
    expect(store.views.get(`7|${12 * DAY}`)).toBe(9);
  });
});

/** The plans of a batch's parts as one: their rows one after another, their counts added, their marks the earliest. */
function merged(parts: BatchPlan[]): BatchPlan {
  const plan = emptyPlan();
  for (const part of parts) {
    plan.accepted += part.accepted;
    plan.duplicate += part.duplicate;
    plan.dirtyFrom = Math.min(plan.dirtyFrom, part.dirtyFrom);
    plan.recountFrom = Math.min(plan.recountFrom, part.recountFrom);
    for (const rows of ["inserted", "raised"] as const) {
      for (const column of ["videoId", "observedAt", "viewCount"] as const) (plan[rows][column] as unknown[]).push(...part[rows][column]);
    }
    for (const tags of ["addedTags", "removedTags"] as const) {
      plan[tags].tag.push(...part[tags].tag);
      plan[tags].videoId.push(...part[tags].videoId);
    }
    plan.recounted.push(...part.recounted);
    plan.videos.push(...part.videos);
    plan.videoSlots.push(...part.videoSlots);
    plan.videoIsNew.push(...part.videoIsNew);
    plan.videoKeepsAttributes.push(...part.videoKeepsAttributes);
    plan.creators.push(...part.creators);
    plan.creatorSlots.push(...part.creatorSlots);
    plan.creatorIsNew.push(...part.creatorIsNew);
  }
  return plan;
}
