import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { CHART_INDUSTRIES, PERIODS } from "../src/domain/chart-model.js";
import { rankRegions, type RankingInput, type RegionRanking } from "../src/domain/chart-ranking.js";
import type { RegionDay } from "../src/domain/series-codec.js";
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
      data.views[i] = rng.int(0, 5_000);
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

describe("ranking on two threads", () => {
  beforeAll(async () => {
    if (!fs.existsSync(compiledModule))
      throw new Error("dist/domain/chart-ranking.js is missing: npm test builds it first (npm run build)");
    compiled = (await import(pathToFileURL(compiledModule).href)) as typeof import("../src/domain/chart-ranking.js");
  });

  for (const savedDay of [undefined, 1_003]) {
    it(`gives the rankings of one thread, region by region, for 35 days ${savedDay === undefined ? "from stored days" : "from saved windows"}`, async () => {
      const rng = new Rng(savedDay ?? 7, 1);
      const { input, pool } = randomInput(rng, 5, 1_000, 1_034, savedDay);
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
