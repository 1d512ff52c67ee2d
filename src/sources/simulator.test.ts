import { createHash } from "node:crypto";
import { describe, it, expect } from "vitest";
import type { ObservationRecord } from "../domain/observation.js";
import { INDUSTRIES, REGIONS } from "../domain/reference-data.js";
import { SECONDS_PER_DAY, dayOf } from "../lib/days.js";
import { createSimulation, estimateObservations, videoIdFor, type SimulationOptions, type SimulationProgress } from "./simulator.js";

const START_DAY = 20_480; // 2026-01-27
const MEDIUM: SimulationOptions = { seed: 2026, days: 24, videosPerDay: 400, startDay: START_DAY };

function digest(options: SimulationOptions): { catalog: string; stream: string; count: number } {
  const sim = createSimulation(options);
  const hash = createHash("sha256");
  let count = 0;
  for (const record of sim.observations()) {
    hash.update(JSON.stringify(record));
    hash.update("\n");
    count++;
  }
  return { catalog: createHash("sha256").update(JSON.stringify(sim.catalog)).digest("hex"), stream: hash.digest("hex"), count };
}

let medium: { records: ObservationRecord[]; progress: SimulationProgress[] } | undefined;

/** One medium-sized run shared by the tests that only read it. */
function mediumRun(): { records: ObservationRecord[]; progress: SimulationProgress[] } {
  if (!medium) {
    const progress: SimulationProgress[] = [];
    const records = [...createSimulation(MEDIUM).observations({ onDay: (p) => progress.push(p) })];
    medium = { records, progress };
  }
  return medium;
}

/** Observations of each video in emission order. */
function byVideo(records: readonly ObservationRecord[]): Map<string, ObservationRecord[]> {
  const videos = new Map<string, ObservationRecord[]>();
  for (const r of records) {
    const list = videos.get(r.id);
    if (list) list.push(r);
    else videos.set(r.id, [r]);
  }
  return videos;
}

describe("createSimulation", () => {
  it("gives byte-identical catalog and observations for the same options", () => {
    const options: SimulationOptions = { seed: 42, days: 8, videosPerDay: 300, startDay: START_DAY };
    const a = digest(options);
    const b = digest(options);
    expect(a.count).toBeGreaterThan(5000);
    expect(b).toEqual(a);
  });

  it("replays the same stream on every call to observations()", () => {
    const sim = createSimulation({ seed: 5, days: 4, videosPerDay: 200, startDay: START_DAY });
    const first = [...sim.observations()].map((r) => JSON.stringify(r));
    const second = [...sim.observations()].map((r) => JSON.stringify(r));
    expect(second).toEqual(first);
  });

  it("gives a different world for a different seed", () => {
    const options: SimulationOptions = { seed: 42, days: 4, videosPerDay: 200, startDay: START_DAY };
    const a = digest(options);
    const b = digest({ ...options, seed: 43 });
    expect(b.catalog).not.toBe(a.catalog);
    expect(b.stream).not.toBe(a.stream);
  });

  it("distinguishes seeds that differ only above 32 bits", () => {
    const options: SimulationOptions = { seed: 1, days: 2, videosPerDay: 100, startDay: START_DAY };
    expect(digest({ ...options, seed: 1 + 2 ** 32 }).stream).not.toBe(digest(options).stream);
  });

  it("keeps every observation inside the period and valid", () => {
    const { records } = mediumRun();
    const start = START_DAY * SECONDS_PER_DAY;
    const end = (START_DAY + MEDIUM.days) * SECONDS_PER_DAY;
    const avatar = /^https:\/\/p\d+-sign[\w.-]*\.tiktokcdn(-us)?\.com\/\S+$/;
    // Checked in plain code, reported once: a million expect() calls would dominate the run.
    const problems: string[] = [];
    const check = (ok: boolean, what: string, r: ObservationRecord): void => {
      if (!ok && problems.length < 10) problems.push(`${what}: ${JSON.stringify(r)}`);
    };
    for (const r of records) {
      check(/^\d{19}$/.test(r.id), "id", r);
      check(Number.isInteger(r.create_time) && r.create_time >= start, "create_time", r);
      check(Number.isInteger(r.observed_at) && r.observed_at >= r.create_time && r.observed_at < end, "observed_at", r);
      check(/^[A-Z]{2}$/.test(r.region_code), "region_code", r);
      check(/^[a-z0-9._]{2,24}$/.test(r.username), "username", r);
      check(Number.isInteger(r.view_count) && r.view_count >= 0, "view_count", r);
      check(r.hashtag_names.length <= 6 && new Set(r.hashtag_names).size === r.hashtag_names.length, "hashtag count", r);
      for (const tag of r.hashtag_names) {
        check(tag === tag.toLowerCase() && /^[\p{L}\p{M}\p{N}_]+$/u.test(tag), "hashtag name", r);
      }
      check(typeof r.nick_name === "string" && r.nick_name.length > 0, "nick_name", r);
      check(typeof r.avatar_url === "string" && avatar.test(r.avatar_url), "avatar_url", r);
    }
    expect(records.length).toBeGreaterThan(30_000);
    expect(problems).toEqual([]);
  });

  it("gives every video one creator, region and publish time", () => {
    const videos = byVideo(mediumRun().records);
    let inconsistent = 0;
    for (const list of videos.values()) {
      const first = list[0]!;
      for (const r of list) {
        if (r.create_time !== first.create_time || r.username !== first.username || r.region_code !== first.region_code) inconsistent++;
      }
    }
    expect(inconsistent).toBe(0);
  });

  it("publishes about videosPerDay videos a day", () => {
    const { records } = mediumRun();
    // Videos of the last day may not have been observed yet when the period ends.
    const lastDay = START_DAY + MEDIUM.days - 1;
    const ids = new Set(records.filter((r) => dayOf(r.create_time) < lastDay).map((r) => r.id));
    const expected = MEDIUM.videosPerDay * (MEDIUM.days - 1);
    expect(Math.abs(ids.size - expected) / expected).toBeLessThan(0.05);
  });

  it("observes a video about 7 times over the two weeks after it is published", () => {
    const videos = byVideo(mediumRun().records);
    const cutoff = (START_DAY + MEDIUM.days - 16) * SECONDS_PER_DAY;
    let videosSeen = 0;
    let observations = 0;
    for (const list of videos.values()) {
      if (list[0]!.create_time >= cutoff) continue;
      videosSeen++;
      observations += new Set(list.map((r) => r.observed_at)).size;
      const span = Math.max(...list.map((r) => r.observed_at)) - list[0]!.create_time;
      expect(span).toBeLessThan(16 * SECONDS_PER_DAY);
    }
    const mean = observations / videosSeen;
    expect(mean).toBeGreaterThan(6.3);
    expect(mean).toBeLessThan(7.7);
  });

  it("estimates the number of observations closely", () => {
    const actual = mediumRun().records.length;
    const estimate = estimateObservations(MEDIUM);
    expect(Math.abs(estimate - actual) / actual).toBeLessThan(0.05);
  });

  it("emits observations roughly in observed_at order", () => {
    const { records } = mediumRun();
    let latest = 0;
    let behind = 0;
    for (const r of records) {
      if (r.observed_at < latest - 3600) behind++;
      latest = Math.max(latest, r.observed_at);
    }
    expect(behind / records.length).toBeLessThan(0.02);
  });

  it("adds a little dirt of each kind: duplicates, conflicts, late and out-of-order lines, view drops", () => {
    const { records } = mediumRun();
    const byKey = new Map<string, string>();
    let exact = 0;
    let conflicting = 0;
    let late = 0;
    let outOfOrder = 0;
    let latest = 0;
    for (const r of records) {
      const key = `${r.id}@${r.observed_at}`;
      const text = JSON.stringify(r);
      const before = byKey.get(key);
      if (before === undefined) byKey.set(key, text);
      else if (before === text) exact++;
      else conflicting++;
      if (r.observed_at < latest - SECONDS_PER_DAY) late++;
      else if (r.observed_at < latest) outOfOrder++;
      latest = Math.max(latest, r.observed_at);
    }
    let drops = 0;
    for (const list of byVideo(records).values()) {
      const ordered = [...list].sort((a, b) => a.observed_at - b.observed_at);
      let highest = -1;
      let previousAt = -1;
      for (const r of ordered) {
        if (r.observed_at !== previousAt && r.view_count < highest) drops++;
        highest = Math.max(highest, r.view_count);
        previousAt = r.observed_at;
      }
    }
    const n = records.length;
    for (const count of [exact, conflicting, late, outOfOrder, drops]) {
      expect(count).toBeGreaterThan(0);
      expect(count / n).toBeLessThan(0.01);
    }
  });

  it("changes a few creators' display fields and a few videos' hashtags over time", () => {
    const { records } = mediumRun();
    const profile = new Map<string, Set<string>>();
    for (const r of records) {
      const set = profile.get(r.username) ?? new Set<string>();
      set.add(`${r.nick_name}|${r.avatar_url}`);
      profile.set(r.username, set);
    }
    const changedCreators = [...profile.values()].filter((s) => s.size > 1).length;
    expect(changedCreators).toBeGreaterThan(0);
    expect(changedCreators / profile.size).toBeLessThan(0.05);

    let edited = 0;
    const videos = byVideo(records);
    for (const list of videos.values()) {
      if (new Set(list.map((r) => r.hashtag_names.join(","))).size > 1) edited++;
    }
    expect(edited).toBeGreaterThan(0);
    expect(edited / videos.size).toBeLessThan(0.01);
  });

  it("lets views grow and flatten with a heavy tail across videos", () => {
    const finals: number[] = [];
    for (const list of byVideo(mediumRun().records).values()) finals.push(Math.max(...list.map((r) => r.view_count)));
    finals.sort((a, b) => a - b);
    const median = finals[Math.floor(finals.length / 2)]!;
    expect(median).toBeGreaterThan(100);
    expect(median).toBeLessThan(5000);
    expect(finals[finals.length - 1]!).toBeGreaterThan(100 * median);
  });

  it("tags videos with 0 to 6 hashtags, led by the everyday ones", () => {
    const videos = byVideo(mediumRun().records);
    const uses = new Map<string, number>();
    let untagged = 0;
    for (const list of videos.values()) {
      const tags = list[0]!.hashtag_names;
      if (tags.length === 0) untagged++;
      for (const t of tags) uses.set(t, (uses.get(t) ?? 0) + 1);
    }
    expect(untagged / videos.size).toBeGreaterThan(0.03);
    expect(untagged / videos.size).toBeLessThan(0.2);
    const top = [...uses]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([t]) => t);
    expect(top).toContain("fyp");
    expect(uses.size).toBeGreaterThan(2000);
  });

  it("covers the supported regions plus a few others, the big TikTok countries biggest", () => {
    const counts = new Map<string, number>();
    for (const list of byVideo(mediumRun().records).values()) {
      const region = list[0]!.region_code;
      counts.set(region, (counts.get(region) ?? 0) + 1);
    }
    const supported = new Set(REGIONS.map((r) => r.id));
    const covered = REGIONS.filter((r) => counts.has(r.id)).length;
    expect(covered).toBeGreaterThanOrEqual(REGIONS.length - 2);
    expect([...counts.keys()].some((code) => !supported.has(code))).toBe(true);
    const top = [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([code]) => code);
    for (const big of ["US", "ID", "BR", "MX"]) expect(top).toContain(big);
  });

  it("builds a catalog of unique hashtags with TikTok-like ids, industries and a few promoted", () => {
    const sim = createSimulation(MEDIUM);
    const { catalog } = sim;
    expect(sim.hashtagCount).toBeGreaterThanOrEqual(30_000);
    expect(sim.creatorCount).toBeGreaterThanOrEqual(20_000);
    expect(new Set(catalog.map((c) => c.hashtag_name)).size).toBe(catalog.length);
    expect(new Set(catalog.map((c) => c.hashtag_id)).size).toBe(catalog.length);
    const industryIds = new Set(INDUSTRIES.map((i) => i.id));
    for (const entry of catalog) {
      expect(entry.hashtag_id).toMatch(/^[1-9]\d{15,18}$/);
      expect(entry.hashtag_name).toBe(entry.hashtag_name.toLowerCase());
      if (entry.industry_id !== null) expect(industryIds.has(entry.industry_id)).toBe(true);
    }
    const withIndustry = catalog.filter((c) => c.industry_id !== null).length / sim.hashtagCount;
    expect(withIndustry).toBeGreaterThan(0.5);
    expect(withIndustry).toBeLessThan(0.7);
    const promoted = catalog.filter((c) => c.is_promoted).length / sim.hashtagCount;
    expect(promoted).toBeGreaterThan(0.01);
    expect(promoted).toBeLessThan(0.06);
    expect(catalog.length).toBeLessThan(sim.hashtagCount);
    expect(catalog.some((c) => /[^\x00-\x7f]/.test(c.hashtag_name))).toBe(true);
  });

  it("streams a long period while holding only the videos still being observed", () => {
    const options: SimulationOptions = { seed: 9, days: 120, videosPerDay: 150, startDay: START_DAY };
    const progress: SimulationProgress[] = [];
    let count = 0;
    let latest = 0;
    // Nothing is retained here: the generator alone holds state.
    for (const r of createSimulation(options).observations({ onDay: (p) => progress.push(p) })) {
      count++;
      latest = Math.max(latest, r.observed_at);
    }
    expect(progress).toHaveLength(options.days);
    expect(count).toBeGreaterThan(options.days * options.videosPerDay * 5);
    const live = progress.map((p) => p.liveVideos);
    const bound = options.videosPerDay * 1.2 * 16;
    expect(Math.max(...live)).toBeLessThan(bound);
    const early = Math.max(...live.slice(20, 60));
    const late = Math.max(...live.slice(80));
    expect(late).toBeLessThan(early * 1.25);
    expect(Math.max(...progress.map((p) => p.delayedObservations))).toBeLessThan(options.videosPerDay * 2);
    expect(latest).toBeLessThan((options.startDay + options.days) * SECONDS_PER_DAY);
  });

  it("rejects options it cannot simulate", () => {
    expect(() => createSimulation({ seed: 1.5, days: 1, videosPerDay: 10, startDay: START_DAY })).toThrow(/seed/);
    expect(() => createSimulation({ seed: 1, days: 0, videosPerDay: 10, startDay: START_DAY })).toThrow(/days/);
    expect(() => createSimulation({ seed: 1, days: 1, videosPerDay: -1, startDay: START_DAY })).toThrow(/videosPerDay/);
    expect(() => estimateObservations({ seed: 1, days: 1, videosPerDay: 10, startDay: -3 })).toThrow(/startDay/);
  });
});

describe("videoIdFor", () => {
  it("writes the publish second in the upper 32 bits, as TikTok video ids do", () => {
    for (const [seconds, low] of [
      [1_769_472_000, 0],
      [1_769_472_000, 4_294_967_295],
      [1_700_000_123, 123_456_789],
      [2_000_000_000, 1],
    ] as const) {
      expect(videoIdFor(seconds, low)).toBe(((BigInt(seconds) << 32n) + BigInt(low)).toString());
    }
  });
});
