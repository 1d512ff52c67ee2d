import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Period } from "../src/domain/chart-model.js";
import type { ChartService } from "../src/domain/chart-service.js";
import { createPublicCharts } from "../src/domain/chart-sources.js";
import type { UpstreamRow, UpstreamSnapshot } from "../src/domain/upstream-charts.js";
import { TagpulseError } from "../src/lib/errors.js";
import { createTestContext, TEST_DATABASES, type TestContext } from "./databases.js";

const D = 20_500; // 2026-02-16

function row(name: string, rank: number, extra: Partial<UpstreamRow> = {}): UpstreamRow {
  return {
    hashtag_id: String(1_000 + rank),
    hashtag_name: name,
    country_info: { id: "US", value: "United States", label: "US" },
    industry_info: { id: "", value: "", label: "" },
    is_promoted: false,
    trend: [{ time: D * 86_400, value: 1 }],
    creators: [{ nick_name: "ann", avatar_url: "" }],
    publish_cnt: 10,
    video_views: 1_000 - rank,
    rank,
    ...extra,
  };
}

function snapshot(day: number, names: string[], options: Partial<UpstreamSnapshot> = {}): UpstreamSnapshot {
  return {
    day,
    region: "US",
    period: 7 as Period,
    industry: "nothing",
    source: "creative_center_gen2",
    fetchedAt: Date.UTC(2026, 1, 17, 3),
    complete: true,
    rows: names.map((name, i) => row(name, i + 1)),
    ...options,
  };
}

const chart = { region: "US", period: 7 as Period, industry: "nothing" };

for (const database of TEST_DATABASES) {
  describe.skipIf(!database.enabled)(`collected charts on ${database.name}`, () => {
    let context: TestContext;
    beforeEach(async () => {
      context = await createTestContext(database.name);
    });
    afterEach(async () => {
      await context.dispose();
    });

    it("serves a stored snapshot with its window, provenance and the rows in rank order", async () => {
      await context.upstreamCharts.store(snapshot(D, ["a", "b", "c", "d"]));
      const served = await context.upstreamCharts.getChartRows(chart);
      expect(served).toMatchObject({
        as_of: "2026-02-16",
        window_start: "2026-02-10",
        window_end: "2026-02-16",
        source: "creative_center_gen2",
        collected_at: "2026-02-17T03:00:00.000Z",
        complete: true,
      });
      expect(served.rows.map((r) => [r.item.hashtag_name, r.item.rank])).toEqual([
        ["a", 1],
        ["b", 2],
        ["c", 3],
        ["d", 4],
      ]);
    });

    it("keeps a complete snapshot when a preview of the same day arrives, and a longer one when a shorter arrives", async () => {
      await context.upstreamCharts.store(snapshot(D, ["a", "b", "c", "d", "e"]));
      expect(await context.upstreamCharts.store(snapshot(D, ["x", "y", "z"], { complete: false }))).toBe("kept_fuller");
      expect(await context.upstreamCharts.store(snapshot(D, ["a", "b", "c", "d"]))).toBe("kept_fuller");
      expect((await context.upstreamCharts.getChartRows(chart)).rows.map((r) => r.item.hashtag_name)).toEqual(["a", "b", "c", "d", "e"]);
      expect(await context.upstreamCharts.store(snapshot(D, ["b", "a", "c", "d", "e", "f"]))).toBe("stored");
      expect((await context.upstreamCharts.getChartRows(chart)).rows).toHaveLength(6);
    });

    it("keeps the complete chart when a preview of the same new day is stored at the same moment", async () => {
      const names = Array.from({ length: 100 }, (_, i) => `t${i}`);
      for (let day = D; day < D + 30; day++) {
        const outcomes = await Promise.all([
          context.upstreamCharts.store(snapshot(day, ["x", "y", "z"], { complete: false })),
          context.upstreamCharts.store(snapshot(day, names)),
        ]);
        expect(outcomes).toContain("stored");
        expect((await context.upstreamCharts.getChartRows({ ...chart, asOf: day })).rows).toHaveLength(100);
      }
    });

    it("replaces a preview by a complete snapshot of the same day", async () => {
      await context.upstreamCharts.store(snapshot(D, ["a", "b", "c"], { complete: false }));
      expect(await context.upstreamCharts.store(snapshot(D, ["a", "b", "c", "d"]))).toBe("stored");
      expect((await context.upstreamCharts.getChartRows(chart)).complete).toBe(true);
    });

    it("serves the latest complete chart rather than a newer preview, and a preview when nothing is complete", async () => {
      await context.upstreamCharts.store(snapshot(D + 1, ["p", "q", "r"], { complete: false }));
      expect((await context.upstreamCharts.getChartRows(chart)).complete).toBe(false);
      await context.upstreamCharts.store(snapshot(D, ["a", "b", "c", "d"]));
      const served = await context.upstreamCharts.getChartRows(chart);
      expect([served.as_of, served.complete]).toEqual(["2026-02-16", true]);
      expect((await context.upstreamCharts.getChartRows({ ...chart, asOf: D + 1 })).rows).toHaveLength(3);
    });

    it("computes movement against the previous day's snapshot, whatever order the days were collected in", async () => {
      await context.upstreamCharts.store(snapshot(D, ["b", "a", "e", "c"]));
      await context.upstreamCharts.store(snapshot(D - 1, ["a", "b", "c", "d"]));
      const rows = (await context.upstreamCharts.getChartRows(chart)).rows;
      expect(rows.map((r) => [r.item.hashtag_name, r.item.rank_diff, r.item.rank_diff_type, r.isNew])).toEqual([
        ["b", 1, 1, false],
        ["a", 1, 3, false],
        ["e", null, 4, true],
        ["c", 1, 3, false],
      ]);
      const first = (await context.upstreamCharts.getChartRows({ ...chart, asOf: D - 1 })).rows;
      expect(first.every((r) => r.item.rank_diff_type === 4 && r.isNew)).toBe(true);
    });

    it("counts a hashtag as new only on the first day any snapshot of that chart had it", async () => {
      await context.upstreamCharts.store(snapshot(D - 5, ["a", "e"]));
      await context.upstreamCharts.store(snapshot(D, ["a", "e", "f"]));
      const rows = (await context.upstreamCharts.getChartRows(chart)).rows;
      expect(rows.map((r) => [r.item.hashtag_name, r.isNew, r.item.rank_diff_type])).toEqual([
        ["a", false, 4],
        ["e", false, 4],
        ["f", true, 4],
      ]);
    });

    it("keeps the movement the upstream sent, and does not call new a row it says was there the day before", async () => {
      await context.upstreamCharts.store({
        ...snapshot(D, []),
        rows: [
          row("a", 1, { rank_diff: 3, rank_diff_type: 1 }),
          row("b", 2, { rank_diff: 0, rank_diff_type: 2 }),
          row("c", 3, { rank_diff: null, rank_diff_type: 4 }),
        ],
      });
      const rows = (await context.upstreamCharts.getChartRows(chart)).rows;
      expect(rows.map((r) => [r.item.rank_diff, r.item.rank_diff_type, r.isNew])).toEqual([
        [3, 1, false],
        [0, 2, false],
        [null, 4, true],
      ]);
    });

    it("refuses an empty chart and answers no_data for a chart or day never collected", async () => {
      await expect(context.upstreamCharts.store(snapshot(D, []))).rejects.toThrow(/empty chart/);
      await expect(context.upstreamCharts.getChartRows(chart)).rejects.toMatchObject({ code: "no_data" });
      await context.upstreamCharts.store(snapshot(D, ["a"]));
      await expect(context.upstreamCharts.getChartRows({ ...chart, asOf: D - 3 })).rejects.toThrow(/on 2026-02-13/);
      await expect(context.upstreamCharts.getChartRows({ ...chart, region: "XX" })).rejects.toBeInstanceOf(TagpulseError);
    });

    it("falls back to a collected chart when the engine has none, saying which source answered", async () => {
      await context.upstreamCharts.store(snapshot(D, ["a", "b"]));
      const served = await context.publicCharts.getChartRows(chart);
      expect([served.source, served.collected_at, served.complete, served.rows.length]).toEqual([
        "creative_center",
        "2026-02-17T03:00:00.000Z",
        true,
        2,
      ]);
      await expect(context.publicCharts.getChartRows({ ...chart, region: "FR" })).rejects.toThrow(
        /no chart data yet.*; no collected chart for FR/,
      );
    });

    it("serves a collected preview only when no later source has the whole chart", async () => {
      await context.upstreamCharts.store(snapshot(D, ["p", "q", "r"], { complete: false }));
      const engineRows = { as_of: "2026-02-16", window_start: "2026-02-10", window_end: "2026-02-16", rows: [] };
      const engine = { ...context.charts, getChartRows: async () => engineRows } as ChartService;
      const previewFirst = createPublicCharts({ engine, upstream: context.upstreamCharts, order: ["creative_center", "engine"] });
      expect(await previewFirst.getChartRows(chart)).toMatchObject({ source: "engine", complete: true });
      const previewOnly = createPublicCharts({ engine, upstream: context.upstreamCharts, order: ["creative_center"] });
      expect(await previewOnly.getChartRows(chart)).toMatchObject({ source: "creative_center", complete: false });
    });

    it("keeps the collector's state, breaker and pause, for the next run of any process, and a pause until it ends", async () => {
      expect(await context.upstreamCharts.collectorState()).toBeNull();
      const state = {
        breaker: { ownState: { value: 1, openedAt: 5, attemptNo: 1 }, breakerState: 5 },
        pause: { until: 9, reason: "refused" },
      };
      await context.upstreamCharts.saveCollectorState(state, 1);
      // A run that ended without refusals while the pause is in effect does not lift it; once it is over, it does.
      await context.upstreamCharts.saveCollectorState({ ...state, pause: null }, 5);
      expect(await context.upstreamCharts.collectorState()).toEqual(state);
      await context.upstreamCharts.saveCollectorState({ ...state, pause: null }, 10);
      expect(await context.upstreamCharts.collectorState()).toEqual({ ...state, pause: null });
    });

    it("publishes stored snapshots to readers through the version, once per publish", async () => {
      const before = await context.upstreamCharts.version();
      await context.upstreamCharts.store(snapshot(D, ["a"]));
      expect(await context.upstreamCharts.version()).toBe(before);
      await context.upstreamCharts.publish();
      expect(await context.upstreamCharts.version()).not.toBe(before);
    });
  });
}
