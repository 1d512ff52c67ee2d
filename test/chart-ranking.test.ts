import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { CHART_INDUSTRIES, PERIODS } from "../src/domain/chart-model.js";
import { rankRegions, type EarlierChart, type RankingInput, type RegionRanking } from "../src/domain/chart-ranking.js";
import { CHART_ENTRY_BYTES, decodeChartTags, type RegionDay } from "../src/domain/series-codec.js";
import { Rng } from "../src/lib/rng.js";

const compiledModule = path.resolve("dist/domain/chart-ranking.js");
let compiled: typeof import("../src/domain/chart-ranking.js");

const TAGS = 400;
const SERIES = PERIODS.length * CHART_INDUSTRIES.length;

/**
 * Random input for `regions` regions from `fromDay` to `lastDay`. The stored days and saved windows are
 * views into one shared buffer, as rows decoded from a pooled PostgreSQL Buffer can be.
 */
function randomInput(
  rng: Rng,
  regions: number,
  fromDay: number,
  lastDay: number,
  savedDay?: number,
  maxViews = 5_000,
): { input: RankingInput; pool: ArrayBuffer } {
  const pool = new ArrayBuffer(1 << 24);
  let used = 0;
  const day = (inPool: boolean): RegionDay => {
    const tags = Int32Array.from(new Set(Array.from({ length: rng.int(0, 120) }, () => rng.below(TAGS)))).sort();
    const n = tags.length;
    const data: RegionDay = inPool
      ? {
          views: new Float64Array(pool, used, n),
          tags: new Int32Array(pool, used + 8 * n, n),
          pubs: new Int32Array(pool, used + 12 * n, n),
        }
      : { views: new Float64Array(n), tags: new Int32Array(n), pubs: new Int32Array(n) };
    if (inPool) used += 16 * n;
    data.tags.set(tags);
    for (let i = 0; i < n; i++) {
      data.views[i] = rng.int(0, maxViews);
      data.pubs[i] = rng.int(0, 3);
    }
    return data;
  };
  const distinctTags = (count: number) => Int32Array.from(new Set(Array.from({ length: count }, () => rng.below(TAGS))));
  const region = (): RegionRanking => {
    const stored = new Map<number, RegionDay>();
    for (let d = fromDay - 120; d <= (savedDay ?? fromDay - 1); d++) if (rng.float() < 0.8) stored.set(d, day(true));
    return {
      stored,
      recomputed: Array.from({ length: lastDay - fromDay + 1 }, () => (rng.float() < 0.9 ? day(false) : undefined)),
      saved: PERIODS.map(() => (savedDay !== undefined && rng.float() < 0.9 ? day(true) : undefined)),
      previous: Array.from({ length: SERIES }, () => distinctTags(rng.int(0, 100))),
      firsts: Array.from({ length: SERIES }, () =>
        Int32Array.from(distinctTags(rng.int(0, 60)), (tag, i) => (i % 2 === 0 ? tag : rng.int(0, lastDay))),
      ),
    };
  };
  const nameRank = Int32Array.from({ length: TAGS }, (_, i) => i);
  for (let i = TAGS - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [nameRank[i], nameRank[j]] = [nameRank[j]!, nameRank[i]!];
  }
  return {
    input: {
      fromDay,
      lastDay,
      firstDay: fromDay - 150,
      ...(savedDay === undefined ? {} : { savedDay }),
      nameRank,
      industryOf: Uint8Array.from({ length: TAGS }, () => (rng.float() < 0.3 ? 0 : rng.int(1, CHART_INDUSTRIES.length - 1))),
      regions: Array.from({ length: regions }, region),
    },
    pool,
  };
}

/**
 * The input with the days up to `savedDay` as an earlier build ranked them from the stored days, and
 * the windows it saved on that day: the second thread starts from those rankings too.
 */
function rankedBefore(input: RankingInput, savedDay: number): RankingInput {
  const { fromDay } = input;
  const days = Array.from({ length: savedDay - fromDay + 1 }, (_, d) => fromDay + d);
  const { savedDay: _, ...fromStored } = input;
  const earlier = rankRegions({
    ...fromStored,
    lastDay: savedDay,
    regions: input.regions.map((region) => ({ ...region, recomputed: days.map((day) => region.stored.get(day)) })),
  });
  return {
    ...input,
    regions: input.regions.map((region, r) => ({
      ...region,
      saved: earlier[r]!.windows,
      before: chartsByDay(earlier[r]!.entries, earlier[r]!.ends, days.length),
    })),
  };
}

describe("ranking on two threads", () => {
  beforeAll(async () => {
    if (!fs.existsSync(compiledModule))
      throw new Error("dist/domain/chart-ranking.js is missing: npm test builds it first (npm run build)");
    compiled = (await import(pathToFileURL(compiledModule).href)) as typeof import("../src/domain/chart-ranking.js");
  });

  for (const savedDay of [undefined, 1_003]) {
    it(`gives the rankings of one thread, region by region, for 35 days ${savedDay === undefined ? "from stored days" : "from saved windows and earlier rankings"}`, async () => {
      const rng = new Rng(savedDay ?? 7, 1);
      const { input: random, pool } = randomInput(rng, 5, 1_000, 1_034, savedDay);
      const input = savedDay === undefined ? random : rankedBefore(random, savedDay);
      const stored = input.regions.map((region) => [...region.stored.values()].map((day) => Array.from(day.views)));
      // A copy: the recomputed days it holds are the input's, which move to the other thread and back.
      const expected = structuredClone(rankRegions(input));

      let done = 0;
      const { regions, threads } = await compiled.rankRegionsInParallel(input, () => done++);

      expect(threads).toBe(2);
      // Progress counts the regions of both threads.
      expect(done).toBe(input.regions.length);
      expect(regions).toEqual(expected);
      // What stayed on this thread is intact: the shared buffer was copied, not moved.
      expect(pool.byteLength).toBe(1 << 24);
      expect(input.regions.map((region) => [...region.stored.values()].map((day) => Array.from(day.views)))).toEqual(stored);
    });
  }

  it("ranks shorter builds on this thread", async () => {
    const { input } = randomInput(new Rng(3, 1), 3, 1_000, 1_006);
    const { regions, threads } = await compiled.rankRegionsInParallel(input);
    expect(threads).toBe(1);
    expect(regions).toEqual(rankRegions(input));
  });
});

/** Each day's charts of a ranked region, by series, as a build stores them. */
function chartsByDay(entries: Uint8Array, ends: Int32Array, days: number): EarlierChart[][] {
  return Array.from({ length: days }, (_, d) =>
    Array.from({ length: SERIES }, (_, series) => {
      const chart = d * SERIES + series;
      const rows = entries.slice(chart === 0 ? 0 : ends[chart - 1]!, ends[chart]);
      expect(rows.length % CHART_ENTRY_BYTES).toBe(0);
      return { tags: decodeChartTags(rows), entries: rows };
    }),
  );
}

/** A day's numbers after new data: some rise, fall, vanish or appear; `tags` stay ascending. */
function changedDay(rng: Rng, day: RegionDay | undefined): RegionDay {
  const cells = new Map<number, [views: number, pubs: number]>();
  day?.tags.forEach((tag, i) => cells.set(tag, [day.views[i]!, day.pubs[i]!]));
  for (const [tag, [views, pubs]] of cells) {
    const roll = rng.float();
    if (roll < 0.05) cells.delete(tag);
    else if (roll < 0.15) cells.set(tag, [views + rng.int(1, 3), pubs]);
    else if (roll < 0.2) cells.set(tag, [Math.max(0, views - rng.int(1, 3)), pubs]);
    else if (roll < 0.3) cells.set(tag, [views, pubs + 1]);
    else if (roll < 0.32) cells.set(tag, [views, Math.max(0, pubs - 1)]);
  }
  for (let k = rng.int(0, 4); k > 0; k--) cells.set(rng.below(TAGS), [rng.int(0, 4), rng.int(0, 1)]);
  const tags = Int32Array.from([...cells.keys()].filter((tag) => cells.get(tag)!.some((n) => n !== 0))).sort();
  return {
    tags,
    views: Float64Array.from(tags, (tag) => cells.get(tag)![0]),
    pubs: Int32Array.from(tags, (tag) => cells.get(tag)![1]),
  };
}

describe("ranking again the days an earlier build ranked", () => {
  it("starts from the earlier rankings and gives the rankings made from scratch, whatever rose, fell, tied or appeared", () => {
    const fromDay = 1_000;
    for (let run = 0; run < 12; run++) {
      const rng = new Rng(run, 5);
      // Longer than the shortest window, windows start among the recomputed days.
      const savedDay = fromDay + (run % 2 === 0 ? 5 : 10);
      // The earlier build, on few views per tag and day, so that window sums often tie.
      const { input: earlier } = randomInput(rng, 3, fromDay, savedDay, undefined, 4);
      const ranked = rankRegions(earlier);
      // This build: the days it recomputes changed (all of them, one, or the last two), and one day more.
      const oneDay = fromDay + rng.int(0, savedDay - fromDay);
      const changes = [() => true, (day: number) => day === oneDay, (day: number) => day >= savedDay - 1][run % 3]!;
      const regions = earlier.regions.map((region, r): RegionRanking => {
        const stored = new Map(region.stored);
        region.recomputed.forEach((day, d) => day && stored.set(fromDay + d, day));
        return {
          ...region,
          stored,
          recomputed: [
            ...region.recomputed.map((day, d) => (changes(fromDay + d) ? changedDay(rng, day) : day)),
            changedDay(rng, undefined),
          ],
          saved: ranked[r]!.windows,
        };
      });
      const input: RankingInput = { ...earlier, lastDay: savedDay + 1, savedDay, regions };
      const fresh = rankRegions(input);
      const before = ranked.map(({ entries, ends }) => chartsByDay(entries, ends, savedDay - fromDay + 1));
      const warm = rankRegions({ ...input, regions: regions.map((region, r) => ({ ...region, before: before[r]! })) });
      expect(warm).toEqual(fresh);
      // A day that did not change ranks as the earlier build ranked it.
      if (!changes(fromDay)) expect(chartsByDay(fresh[0]!.entries, fresh[0]!.ends, 1)).toEqual(before[0]!.slice(0, 1));
    }
  });
});
