import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Period } from "../src/domain/chart-model.js";
import { findIndustry } from "../src/domain/reference-data.js";
import { parseDay } from "../src/lib/days.js";
import type { CreativeCenterClient } from "../src/sources/creative-center/client.js";
import { createCollector, type CollectorOptions, type SweepPlan } from "../src/sources/creative-center/collector.js";
import { createFakeUpstream, type FakeUpstream } from "../src/sources/creative-center/fake-upstream.js";
import { createGen1Client } from "../src/sources/creative-center/gen1-client.js";
import { createGen2Client } from "../src/sources/creative-center/gen2-client.js";
import { createTestContext, type TestContext } from "./databases.js";

const AS_OF = "2026-11-20";
const NEXT_DAY = "2026-11-21";
const SESSION = { sessionId: "fake-session", csrfToken: "fake-csrf" };
const GEN1_HEADERS = {
  "anonymous-user-id": "a1b2c3",
  "user-sign": "0123456789abcdef",
  "web-id": "7300000000000000000",
  cookie: "sessionid=captured",
};
/** A small industry and the unfiltered chart, in two countries. */
const INDUSTRY = "14000000000";
const PLAN: SweepPlan = { regions: ["US", "FR"], periods: [7], industries: ["nothing", INDUSTRY] };

let fake: FakeUpstream;
let baseUrl: string;
let context: TestContext;

beforeAll(async () => {
  fake = createFakeUpstream({ seed: 7, asOf: AS_OF, session: SESSION });
  baseUrl = await fake.listen(0);
});
afterAll(async () => {
  await fake.close();
});
beforeEach(async () => {
  fake.clearFaults();
  fake.setAsOf(AS_OF);
  context = await createTestContext("SQLite");
});
afterEach(async () => {
  await context.dispose();
});

const gen2 = (options: { loggedIn?: boolean; timeoutMs?: number } = {}) =>
  createGen2Client({ baseUrl, timeoutMs: options.timeoutMs ?? 2_000, session: options.loggedIn === false ? undefined : SESSION });

/** A collector as production builds it, only faster: the fake answers at once. */
function collector(client: CreativeCenterClient, options: Partial<CollectorOptions> = {}) {
  return createCollector({
    client,
    store: context.upstreamCharts,
    plan: PLAN,
    requestsPerSecond: 1_000,
    retries: 3,
    baseDelayMs: 5,
    maxDelayMs: 50,
    refusalsBeforeStop: 4,
    pauseAfterRefusalsMs: 3_600_000,
    ...options,
  });
}

const us7 = { region: "US", period: 7 as Period, industry: "nothing" };

async function served(query: { region: string; period: Period; industry: string; asOf?: number } = us7) {
  return context.upstreamCharts.getChartRows(query);
}

function requestsSince(start: number) {
  return fake.requests.slice(start);
}

describe("collecting with generation 2, logged in", () => {
  it("stores every chart of the plan as the upstream's truth: names, numbers, industry, creators and a 0-1 trend on our layout", async () => {
    const report = await collector(gen2()).run();
    expect(report).toMatchObject({
      source: "creative_center_gen2",
      charts: { planned: 4, stored: 4, previews: 0, keptFuller: 0, failed: 0, skipped: 0, unsupported: 0 },
      stopped: null,
    });
    for (const region of PLAN.regions) {
      for (const industry of PLAN.industries) {
        const truth = fake.chart({ region, period: 7, industry });
        const chart = await served({ region, period: 7, industry });
        expect(chart).toMatchObject({ as_of: AS_OF, window_start: "2026-11-14", window_end: AS_OF, complete: true });
        expect(chart.rows.map((r) => r.item.hashtag_name)).toEqual(truth.map((t) => t.name));
        chart.rows.forEach(({ item }, i) => {
          const t = truth[i]!;
          expect(item).toMatchObject({
            hashtag_id: t.hashtagId,
            country_info: { id: region },
            is_promoted: t.promoted,
            publish_cnt: t.publishCnt,
            video_views: t.views,
            rank: i + 1,
            creators: t.creators.map((c) => ({ nick_name: c.nickname, avatar_url: c.avatarURL })),
          });
          const industryInfo = t.industryId === null ? { id: "", value: "", label: "" } : findIndustry(t.industryId);
          expect(item.industry_info).toEqual({ ...industryInfo });
          expect(item.trend).toHaveLength(7);
          expect(Math.max(...item.trend.map((p) => p.value))).toBe(1);
        });
      }
    }
    expect(fake.chart(us7)).toHaveLength(100);
    // 100 rows in 5 pages of 20; a smaller industry chart stops when the upstream says there is no more.
    expect(report.requests).toBe(fake.requests.length);
    expect(report.rows).toBe(
      PLAN.regions.reduce(
        (n, region) => n + PLAN.industries.reduce((m, industry) => m + fake.chart({ region, period: 7, industry }).length, 0),
        0,
      ),
    );
  });

  it("computes movement and new entries from its own history across days", async () => {
    await collector(gen2()).run();
    fake.setAsOf(NEXT_DAY);
    await collector(gen2()).run();
    const before = new Map(fake.chart({ ...us7, day: AS_OF }).map((t) => [t.name, t.rank]));
    const chart = await served();
    expect(chart.as_of).toBe(NEXT_DAY);
    let moved = 0;
    for (const { item, isNew } of chart.rows) {
      const previous = before.get(item.hashtag_name);
      if (previous === undefined) {
        expect([item.rank_diff, item.rank_diff_type, isNew]).toEqual([null, 4, true]);
      } else {
        expect(item.rank_diff).toBe(Math.abs(previous - item.rank));
        expect(item.rank_diff_type).toBe(item.rank < previous ? 1 : item.rank === previous ? 2 : 3);
        expect(isNew).toBe(false);
        if (previous !== item.rank) moved++;
      }
    }
    expect(moved).toBeGreaterThan(0);
  });
});

describe("collecting with generation 2, logged out", () => {
  it("stores 3-row previews, one request per chart, marked incomplete", async () => {
    const start = fake.requests.length;
    const report = await collector(gen2({ loggedIn: false })).run();
    expect(report.charts).toMatchObject({ stored: 0, previews: 4, failed: 0 });
    expect(requestsSince(start)).toHaveLength(4);
    const chart = await served();
    expect([chart.complete, chart.rows.length]).toEqual([false, 3]);
  });

  it("never lets a preview replace a complete chart of the same day", async () => {
    await collector(gen2()).run();
    const report = await collector(gen2({ loggedIn: false })).run();
    expect(report.charts).toMatchObject({ keptFuller: 4, previews: 0 });
    expect((await served()).rows).toHaveLength(100);
  });
});

describe("resilience", () => {
  it("retries a throttled request after the Retry-After the upstream asked for", async () => {
    fake.inject({ kind: "throttle", times: 2, retryAfterSeconds: 1, generation: 2 });
    const start = fake.requests.length;
    const report = await collector(gen2(), { plan: { ...PLAN, regions: ["US"], industries: ["nothing"] } }).run();
    expect(report.charts.stored).toBe(1);
    expect(report.retries).toBe(2);
    const log = requestsSince(start);
    expect(log.slice(0, 3).map((r) => r.status)).toEqual([429, 429, 200]);
    expect(log[1]!.at - log[0]!.at).toBeGreaterThanOrEqual(950);
    expect(log[2]!.at - log[1]!.at).toBeGreaterThanOrEqual(950);
  });

  it("retries timeouts, 5xx and 403 with backoff, and stores the chart once the upstream answers", async () => {
    fake.inject({ kind: "timeout", delayMs: 10_000, generation: 2 });
    fake.inject({ kind: "server_error", generation: 2 });
    fake.inject({ kind: "refuse", generation: 2 });
    const report = await collector(gen2({ timeoutMs: 3_000 }), { plan: { ...PLAN, regions: ["US"], industries: ["nothing"] } }).run();
    expect(report).toMatchObject({ charts: { stored: 1, failed: 0 }, retries: 3, stopped: null });
    expect((await served()).rows).toHaveLength(100);
  });

  it("gives up on a chart after the bounded retries and goes on with the next", async () => {
    fake.inject({ kind: "server_error", times: 4, generation: 2 });
    const report = await collector(gen2()).run();
    expect(report.charts).toMatchObject({ stored: 3, failed: 1 });
    expect(report.failures).toEqual([{ chart: "US 7d industry nothing", reason: expect.stringMatching(/HTTP 502/) }]);
    await expect(served()).rejects.toMatchObject({ code: "no_data" });
  });

  it("stops the run after refusals in a row, says why, and keeps every later run stopped for the pause", async () => {
    fake.inject({ kind: "expired_session", times: Infinity, generation: 2 });
    const first = await collector(gen2()).run();
    expect(first.stopped).toMatch(
      /^stopped: 4 refusals in a row, the last: the session is not logged in \(StatusCode 38001001\); collecting resumes after /,
    );
    expect(first.charts).toMatchObject({ stored: 0, previews: 0, skipped: 4 });
    expect([first.requests, first.retries]).toEqual([4, 3]);
    // Another collector, as another process would build it: the pause is kept in the database.
    fake.clearFaults();
    const start = fake.requests.length;
    const again = await collector(gen2()).run();
    expect(again.stopped).toBe(first.stopped);
    expect(again.charts.skipped).toBe(4);
    expect(requestsSince(start)).toHaveLength(0);
  });

  it("tries again once the pause is over, and collects when the upstream answers", async () => {
    fake.inject({ kind: "expired_session", times: 4, generation: 2 });
    const first = await collector(gen2(), { pauseAfterRefusalsMs: 300 }).run();
    expect(first.stopped).toMatch(/^stopped: 4 refusals in a row/);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const again = await collector(gen2(), { pauseAfterRefusalsMs: 300 }).run();
    expect(again).toMatchObject({ stopped: null, charts: { stored: 4, skipped: 0 } });
    expect(await context.upstreamCharts.collectorState()).toMatchObject({ pause: null });
  });

  it("stops, without retrying early, when the upstream asks to wait longer than a run waits", async () => {
    fake.inject({ kind: "throttle", retryAfterSeconds: 3_600, generation: 2 });
    const report = await collector(gen2()).run();
    expect(report.stopped).toMatch(
      /^stopped: the upstream asked to wait 60 min \(POST .*: HTTP 429 \(throttled\)\); collecting resumes after /,
    );
    expect([report.requests, report.retries, report.charts.skipped]).toEqual([1, 0, 4]);
  });

  it("holds the next chart's request too until a Retry-After has passed", async () => {
    fake.inject({ kind: "throttle", retryAfterSeconds: 1, generation: 2 });
    const start = fake.requests.length;
    const report = await collector(gen2(), { retries: 0, plan: { ...PLAN, regions: ["US", "FR"], industries: ["nothing"] } }).run();
    expect(report.charts).toMatchObject({ failed: 1, stored: 1 });
    const [throttled, next] = requestsSince(start);
    expect(throttled!.status).toBe(429);
    expect(next!.at - throttled!.at).toBeGreaterThanOrEqual(950);
  });

  it("stops at once when interrupted during a retry's wait, counting the chart as skipped", async () => {
    fake.inject({ kind: "throttle", retryAfterSeconds: 30, generation: 2 });
    const interrupt = new AbortController();
    setTimeout(() => interrupt.abort(), 200);
    const started = Date.now();
    const report = await collector(gen2()).run({ signal: interrupt.signal });
    expect(report.stopped).toBe("interrupted");
    expect(report.charts).toMatchObject({ failed: 0, skipped: 4 });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("refuses a chart whose curve runs past the day it was fetched, instead of dating it in the future", async () => {
    fake.setAsOf("2026-11-23");
    const fetchedOn21st = { now: () => Date.parse("2026-11-21T02:00:00Z") };
    const plan = { regions: ["US"], periods: [7, 120] as Period[], industries: ["nothing"] };
    const report = await collector(gen2(), { ...fetchedOn21st, plan }).run();
    expect(report.failures).toEqual([
      { chart: "US 7d industry nothing", reason: "row 1: its curve has a point on 2026-11-22, after the day it was fetched" },
      // Weekly points are dated by their bucket's first day: the last one, 2026-11-17, covers up to the 23rd.
      { chart: "US 120d industry nothing", reason: "the curves end on 2026-11-23, after the day the chart was fetched" },
    ]);
    await expect(served()).rejects.toMatchObject({ code: "no_data" });
  });

  it("stops the run when charts cannot be stored, instead of fetching on for nothing", async () => {
    const broken = { ...context.upstreamCharts, store: () => Promise.reject(new Error("disk full")) };
    const report = await collector(gen2(), { store: broken, plan: { ...PLAN, regions: ["US", "FR", "DE"] } }).run();
    expect(report.failures.map((f) => f.reason)).toEqual(["not stored: disk full", "not stored: disk full"]);
    expect(report.stopped).toBe("stopped: 3 charts in a row could not be stored (disk full)");
    expect(report.charts).toMatchObject({ failed: 2, skipped: 4 });
  });

  it("reports, instead of throwing, when its state cannot be saved, and starts afresh from a state it cannot read", async () => {
    await context.upstreamCharts.saveCollectorState({ breaker: { something: "else" }, pause: null }, Date.now());
    const unsaved = { ...context.upstreamCharts, saveCollectorState: () => Promise.reject(new Error("read-only")) };
    const report = await collector(gen2(), { store: unsaved }).run();
    expect(report).toMatchObject({ stopped: null, charts: { stored: 4 }, warnings: ["the collector's state was not saved: read-only"] });
  });

  it("stores a logged-in answer that ends before the upstream's own count as a preview", async () => {
    const short: CreativeCenterClient = {
      ...gen2(),
      fetchPage: async (request, signal) => ({ ...(await gen2().fetchPage(request, signal)), hasMore: false }),
    };
    const report = await collector(short, { plan: { ...PLAN, regions: ["US"], industries: ["nothing"] } }).run();
    expect(report.charts).toMatchObject({ stored: 0, previews: 1 });
    const chart = await served();
    expect([chart.complete, chart.rows.length]).toEqual([false, 20]);
  });

  it("stores nothing from a malformed, broken-row or empty answer and keeps serving the last good chart with its age", async () => {
    await collector(gen2(), { now: () => Date.parse("2026-11-21T02:00:00Z") }).run();
    fake.setAsOf(NEXT_DAY);
    for (const kind of ["malformed", "bad_row", "empty"] as const) {
      fake.inject({ kind, generation: 2 });
      const report = await collector(gen2(), { plan: { ...PLAN, regions: ["US"], industries: ["nothing"] } }).run();
      expect(report.charts).toMatchObject({ stored: 0, failed: 1 });
      expect(report.retries).toBe(0);
      expect(report.failures[0]!.reason).toMatch(
        {
          malformed: /not JSON/,
          bad_row: /row \d+ of page 1: (hashtagName is missing|vv must be >= 0)/,
          empty: /empty chart: stored nothing/,
        }[kind],
      );
      const chart = await served();
      expect([chart.as_of, chart.collected_at, chart.rows.length]).toEqual([AS_OF, "2026-11-21T02:00:00.000Z", 100]);
    }
  });

  it("keeps serving yesterday's complete chart when today's answers are silently truncated to 3 rows", async () => {
    await collector(gen2()).run();
    fake.setAsOf(NEXT_DAY);
    fake.inject({ kind: "truncate", times: Infinity, generation: 2 });
    const report = await collector(gen2()).run();
    expect(report.charts).toMatchObject({ stored: 0, previews: 4 });
    const chart = await served();
    expect([chart.as_of, chart.complete, chart.rows.length]).toEqual([AS_OF, true, 100]);
    expect((await served({ ...us7, asOf: parseDay(NEXT_DAY)! })).complete).toBe(false);
  });

  it("stops at once when interrupted, leaving the rest of the plan skipped", async () => {
    const interrupt = new AbortController();
    const report = await collector(gen2()).run({
      signal: interrupt.signal,
      onChart: (done) => {
        if (done === 1) interrupt.abort();
      },
    });
    expect(report.stopped).toBe("interrupted");
    expect(report.charts).toMatchObject({ stored: 1, skipped: 3 });
  });
});

describe("collecting with generation 1", () => {
  it("replays the captured header set, collects all-regions charts too, and keeps the upstream's movement", async () => {
    const plan = { regions: ["all_regions", "US"], periods: [7 as Period], industries: ["nothing"] };
    const report = await collector(createGen1Client({ baseUrl, headers: GEN1_HEADERS }), { plan }).run();
    expect(report).toMatchObject({ source: "creative_center_gen1", charts: { stored: 2, failed: 0 } });
    const all = await served({ ...us7, region: "all_regions" });
    const truth = fake.chart({ ...us7, region: "all_regions" });
    expect(all.rows.map((r) => r.item.hashtag_name)).toEqual(truth.map((t) => t.name));
    expect(all.rows.some((r) => r.item.country_info.id !== all.rows[0]!.item.country_info.id)).toBe(true);
    const before = new Map(fake.chart({ ...us7, day: "2026-11-19" }).map((t) => [t.name, t.rank]));
    for (const { item } of (await served()).rows) {
      const previous = before.get(item.hashtag_name);
      expect(item.rank_diff_type).toBe(previous === undefined ? 4 : item.rank < previous ? 1 : item.rank === previous ? 2 : 3);
    }
  });

  it("stops with 'no permission' when the captured session has expired", async () => {
    const report = await collector(createGen1Client({ baseUrl, headers: { ...GEN1_HEADERS, "user-sign": "ffffffffffffffff" } })).run();
    expect(report.stopped).toMatch(/no permission \(code 40101\)/);
    expect(report.charts.stored).toBe(0);
  });
});
