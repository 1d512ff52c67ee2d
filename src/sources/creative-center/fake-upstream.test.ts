import { describe, expect, it } from "vitest";
import { INDUSTRIES, REGIONS } from "../../domain/reference-data.js";
import { formatDay, parseDay, SECONDS_PER_DAY } from "../../lib/days.js";
import { createFakeUpstream, FAKE_UPSTREAM_PATHS, FAULT_KINDS, type FakeChartRow, type FakeUpstream, type Fault } from "./fake-upstream.js";

const AS_OF = "2026-01-27";
const AS_OF_DAY = parseDay(AS_OF)!;
const LOGIN = { cookie: "sessionid=fake-session; csrftoken=xyz", "x-secsdk-csrf-token": "fake-csrf" };
const SIGNED = {
  "anonymous-user-id": "anon-1",
  timestamp: "1769472000",
  "user-sign": "0123456789abcdef",
  "web-id": "7300000000000000001",
  cookie: "sessionid=anything",
};
const SMALL_INDUSTRY = "13000000000";

function fake(faults: Fault[] = []): FakeUpstream {
  return createFakeUpstream({ seed: 42, asOf: AS_OF, faults });
}

function gen2(upstream: FakeUpstream, body: Record<string, unknown>, headers: Record<string, string> = LOGIN) {
  return upstream.app.inject({
    method: "POST",
    url: FAKE_UPSTREAM_PATHS.gen2List,
    headers: { "content-type": "application/json", ...headers },
    payload: JSON.stringify(body),
  });
}

function gen1(upstream: FakeUpstream, query: Record<string, string>, headers: Record<string, string> = SIGNED) {
  return upstream.app.inject({ method: "GET", url: FAKE_UPSTREAM_PATHS.gen1List, query, headers });
}

const US_7 = { countryCode: "US", timeRange: 7, page: 1, limit: 20 };
const ALL_7 = { page: "1", limit: "20", period: "7", country_code: "", industry_id: "", sort_by: "popular" };

function checkInvariants(rows: FakeChartRow[], period: 7 | 30 | 120, day: number): void {
  expect(rows.length).toBeLessThanOrEqual(100);
  rows.forEach((row, i) => {
    expect(row.rank).toBe(i + 1);
    expect(row.hashtagId).toMatch(/^[1-9]\d{18}$/);
    expect(row.name).toMatch(/^[a-z0-9]+$/);
    expect(Number.isInteger(row.views) && row.views > 0).toBe(true);
    expect(Number.isInteger(row.publishCnt) && row.publishCnt > 0).toBe(true);
    expect(row.creators.length).toBeLessThanOrEqual(3);
    const next = rows[i + 1];
    if (next) {
      const ordered =
        row.views > next.views ||
        (row.views === next.views && (row.publishCnt > next.publishCnt || (row.publishCnt === next.publishCnt && row.name < next.name)));
      expect(ordered).toBe(true);
    }
    const values = row.curve.map((p) => p.value);
    expect(Math.max(...values)).toBe(100);
    expect(values.every((v) => Number.isInteger(v) && v >= 0 && v <= 100)).toBe(true);
    const days = row.curve.map((p) => p.day / SECONDS_PER_DAY);
    if (period === 120) {
      // Weekly buckets ending on the chart's day, the oldest cut at the window's start.
      expect(days).toHaveLength(18);
      expect(days[0]).toBe(day - 119);
      expect(days.slice(1)).toEqual(Array.from({ length: 17 }, (_, k) => day - 6 - 7 * (16 - k)));
    } else {
      expect(days).toEqual(Array.from({ length: period }, (_, k) => day - period + 1 + k));
    }
  });
}

describe("the fake world", () => {
  it("gives the same chart for the same seed and day, and another for another seed", () => {
    const query = { region: "US", period: 30, industry: "nothing" } as const;
    expect(fake().chart(query)).toEqual(fake().chart(query));
    expect(
      createFakeUpstream({ seed: 43, asOf: AS_OF })
        .chart(query)
        .map((r) => r.name),
    ).not.toEqual(
      fake()
        .chart(query)
        .map((r) => r.name),
    );
  });

  it("keeps most of a chart from one day to the next while some rows move", () => {
    const upstream = fake();
    for (const region of ["all_regions", "US"]) {
      const today = upstream.chart({ region, period: 7, industry: "nothing" });
      const tomorrow = upstream.chart({ region, period: 7, industry: "nothing", day: formatDay(AS_OF_DAY + 1) });
      const names = new Set(today.map((r) => r.name));
      const kept = tomorrow.filter((r) => names.has(r.name)).length;
      expect(kept).toBeGreaterThanOrEqual(85);
      expect(tomorrow.map((r) => r.name)).not.toEqual(today.map((r) => r.name));
    }
  });

  it("ranks every chart by views, then publish count, then name, with curves peaking at 100", () => {
    const upstream = fake();
    for (const region of ["all_regions", "US", "SG"]) {
      for (const period of [7, 30, 120] as const) {
        for (const industry of ["nothing", SMALL_INDUSTRY, "27000000000"]) {
          checkInvariants(upstream.chart({ region, period, industry }), period, AS_OF_DAY);
        }
      }
    }
  });

  it("fills every unfiltered chart to 100 rows and leaves small industries short", () => {
    const upstream = fake();
    for (const region of ["all_regions", ...REGIONS.map((r) => r.id)]) {
      for (const period of [7, 30, 120] as const) expect(upstream.chart({ region, period, industry: "nothing" })).toHaveLength(100);
    }
    const small = upstream.chart({ region: "all_regions", period: 7, industry: SMALL_INDUSTRY });
    expect(small.length).toBeGreaterThan(0);
    expect(small.length).toBeLessThan(100);
    expect(small.every((r) => r.industryId === Number(SMALL_INDUSTRY))).toBe(true);
  });

  it("keeps each hashtag's id and name together across charts", () => {
    const upstream = fake();
    const nameOf = new Map<string, string>();
    for (const period of [7, 30, 120] as const) {
      for (const row of upstream.chart({ region: "all_regions", period, industry: "nothing" })) {
        expect(nameOf.get(row.hashtagId) ?? row.name).toBe(row.name);
        nameOf.set(row.hashtagId, row.name);
      }
    }
    expect(new Set(nameOf.values()).size).toBe(nameOf.size);
  });

  it("renders a day's charts in a few milliseconds each", () => {
    const upstream = fake();
    upstream.chart({ region: "US", period: 120, industry: "nothing" });
    const started = performance.now();
    let charts = 0;
    for (const region of REGIONS.slice(0, 10)) {
      for (const industry of INDUSTRIES) {
        upstream.chart({ region: region.id, period: 30, industry: String(industry.id) });
        charts++;
      }
    }
    expect((performance.now() - started) / charts).toBeLessThan(5);
  });
});

describe("generation 2", () => {
  it("truncates an anonymous caller to the top 3 rows with a success status", async () => {
    const upstream = fake();
    const top = upstream.chart({ region: "US", period: 7, industry: "nothing" });
    const first = (await gen2(upstream, US_7, {})).json();
    expect(first.BaseResp).toEqual({ StatusCode: 0, StatusMessage: "success" });
    expect(first.items.map((i: { hashtagID: string }) => i.hashtagID)).toEqual(top.slice(0, 3).map((r) => r.hashtagId));
    expect(first.pagination).toEqual({ page: 1, limit: 20, totalCount: 3, hasMore: false });
    const second = (await gen2(upstream, { ...US_7, page: 2 }, {})).json();
    expect(second.items).toEqual([]);
    expect(upstream.requests.map((r) => r.loggedIn)).toEqual([false, false]);
  });

  it("serves a logged-in caller the whole chart in pages", async () => {
    const upstream = fake();
    const truth = upstream.chart({ region: "US", period: 7, industry: "nothing" });
    const seen: { hashtagID: string; rankIndex: number; vv: number; publishCnt: number }[] = [];
    for (let page = 1; page <= 5; page++) {
      const body = (await gen2(upstream, { ...US_7, page })).json();
      expect(body.pagination).toEqual({ page, limit: 20, totalCount: 100, hasMore: page < 5 });
      seen.push(...body.items);
    }
    expect(seen.map((i) => [i.hashtagID, i.rankIndex, i.vv, i.publishCnt])).toEqual(
      truth.map((r) => [r.hashtagId, r.rank, r.views, r.publishCnt]),
    );
    expect((await gen2(upstream, { ...US_7, page: 6 })).json().items).toEqual([]);
    const item = (await gen2(upstream, { ...US_7, limit: 1 })).json().items[0];
    expect(Object.keys(item)).toEqual([
      "hashtagID",
      "hashtagName",
      "rankIndex",
      "publishCnt",
      "vv",
      "industryIDs",
      "topCreators",
      "popularityCurve",
      "isPromoted",
    ]);
    expect(item.popularityCurve).toHaveLength(7);
    expect(typeof item.popularityCurve[0].timestamp).toBe("string");
  });

  it("accepts either CSRF variant and refuses a session without one", async () => {
    const upstream = fake();
    const ok = async (headers: Record<string, string>) => (await gen2(upstream, US_7, headers)).json();
    expect((await ok({ cookie: "sessionid=fake-session", "x-secsdk-csrf-token": "fake-csrf" })).items).toHaveLength(20);
    expect((await ok({ cookie: "csrftoken=tok42; sessionid=fake-session", "x-csrftoken": "tok42" })).items).toHaveLength(20);
    expect((await ok({ cookie: "csrftoken=tok42; sessionid=fake-session", "x-csrftoken": "other" })).BaseResp.StatusCode).toBe(38001001);
    expect((await ok({ cookie: "csrftoken=; sessionid=fake-session", "x-csrftoken": "" })).BaseResp.StatusCode).toBe(38001001);
    expect(upstream.requests.map((r) => r.loggedIn)).toEqual([true, true, false, false]);
  });

  it("answers InvalidLogin to a wrong session cookie", async () => {
    const response = await gen2(fake(), US_7, { ...LOGIN, cookie: "sessionid=stale" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ BaseResp: { StatusCode: 38001001, StatusMessage: "InvalidLogin" } });
  });

  it("sends 64-bit numbers as strings when asked with agw-js-conv: str", async () => {
    const upstream = fake();
    const body = { ...US_7, industryID: 27000000000 };
    const numbers = (await gen2(upstream, body)).json().items[0];
    const strings = (await gen2(upstream, body, { ...LOGIN, "agw-js-conv": "str" })).json().items[0];
    expect(typeof numbers.vv).toBe("number");
    expect(numbers.industryIDs).toEqual([27000000000]);
    expect(strings.vv).toBe(String(numbers.vv));
    expect(strings.publishCnt).toBe(String(numbers.publishCnt));
    expect(strings.industryIDs).toEqual(["27000000000"]);
    expect(strings.topCreators.map((c: { followedCnt: unknown }) => c.followedCnt)).toEqual(
      numbers.topCreators.map((c: { followedCnt: number }) => String(c.followedCnt)),
    );
  });

  it("filters by industry, given as a number or a string of digits", async () => {
    const upstream = fake();
    const truth = upstream.chart({ region: "GB", period: 30, industry: SMALL_INDUSTRY });
    for (const industryID of [Number(SMALL_INDUSTRY), SMALL_INDUSTRY]) {
      const body = (await gen2(upstream, { countryCode: "GB", timeRange: 30, page: 1, limit: 100, industryID })).json();
      expect(body.pagination.totalCount).toBe(truth.length);
      expect(body.items.map((i: { hashtagName: string }) => i.hashtagName)).toEqual(truth.map((r) => r.name));
    }
  });

  it("answers InvalidRequest to an unknown industry, country, time range or limit", async () => {
    const upstream = fake();
    for (const body of [
      { ...US_7, industryID: 16000000000 },
      { ...US_7, industryID: "food" },
      { ...US_7, countryCode: "XX" },
      { ...US_7, timeRange: 90 },
      { ...US_7, limit: 101 },
      { ...US_7, page: 0 },
    ]) {
      const response = await gen2(upstream, body);
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe('{"code":"InvalidRequest"}');
    }
  });

  it("refuses a body that is not JSON with 415", async () => {
    const upstream = fake();
    const response = await upstream.app.inject({
      method: "POST",
      url: FAKE_UPSTREAM_PATHS.gen2List,
      headers: { ...LOGIN, "content-type": "text/plain" },
      payload: "countryCode=US",
    });
    expect(response.statusCode).toBe(415);
  });
});

describe("generation 1", () => {
  it("answers no permission unless every signed header and a session are sent", async () => {
    const upstream = fake();
    for (const name of Object.keys(SIGNED)) {
      const headers: Record<string, string> = { ...SIGNED };
      delete headers[name];
      const body = (await gen1(upstream, ALL_7, headers)).json();
      expect(body).toMatchObject({ code: 40101, msg: "no permission" });
      expect(typeof body.request_id).toBe("string");
    }
    expect((await gen1(upstream, ALL_7, { ...SIGNED, "user-sign": "ffffffffffffffff" })).json().code).toBe(40101);
    expect((await gen1(upstream, ALL_7, { ...SIGNED, timestamp: "now" })).json().code).toBe(40101);
    expect((await gen1(upstream, ALL_7)).json().code).toBe(0);
  });

  it("serves the chart as public items, in pages", async () => {
    const upstream = fake();
    const truth = upstream.chart({ region: "all_regions", period: 7, industry: "nothing" });
    const body = (await gen1(upstream, { ...ALL_7, limit: "50", page: "2" })).json();
    expect(body).toMatchObject({ code: 0, msg: "OK" });
    expect(body.data.pagination).toEqual({ page: 2, size: 50, total: 100, has_more: false });
    const item = body.data.list[0];
    expect(Object.keys(item)).toEqual([
      "hashtag_id",
      "hashtag_name",
      "country_info",
      "industry_info",
      "is_promoted",
      "trend",
      "creators",
      "publish_cnt",
      "video_views",
      "rank",
      "rank_diff",
      "rank_diff_type",
    ]);
    const row = truth[50]!;
    expect(item).toMatchObject({
      hashtag_id: row.hashtagId,
      hashtag_name: row.name,
      rank: 51,
      video_views: row.views,
      publish_cnt: row.publishCnt,
    });
    expect(REGIONS).toContainEqual(item.country_info);
    expect(item.trend.map((p: { value: number }) => p.value)).toEqual(row.curve.map((p) => p.value / 100));
    const industries = body.data.list.map((i: { industry_info: unknown }) => i.industry_info);
    expect(industries).toContainEqual({ id: "", value: "", label: "" });
    expect(
      industries
        .filter((i: { id: unknown }) => i.id !== "")
        .every((i: unknown) => INDUSTRIES.some((r) => JSON.stringify(r) === JSON.stringify(i))),
    ).toBe(true);
    expect((await gen1(upstream, { ...ALL_7, country_code: "FR", limit: "1" })).json().data.list[0].country_info).toEqual({
      id: "FR",
      value: "France",
      label: "FR",
    });
  });

  it("computes rank_diff against the previous day's chart", async () => {
    const upstream = fake();
    const query = { ...ALL_7, country_code: "US", period: "30", limit: "50" };
    const list = [...(await gen1(upstream, query)).json().data.list, ...(await gen1(upstream, { ...query, page: "2" })).json().data.list];
    const before = new Map(
      upstream.chart({ region: "US", period: 30, industry: "nothing", day: formatDay(AS_OF_DAY - 1) }).map((r) => [r.hashtagId, r.rank]),
    );
    expect(list).toHaveLength(100);
    for (const item of list) {
      const previous = before.get(item.hashtag_id);
      if (previous === undefined) expect([item.rank_diff, item.rank_diff_type]).toEqual([null, 4]);
      else
        expect([item.rank_diff, item.rank_diff_type]).toEqual([
          Math.abs(previous - item.rank),
          item.rank < previous ? 1 : item.rank === previous ? 2 : 3,
        ]);
    }
    expect(list.some((i: { rank_diff_type: number }) => i.rank_diff_type !== 2)).toBe(true);
  });

  it("lists only newcomers to the top 100 with filter_by=new_on_board", async () => {
    const upstream = fake();
    const body = (await gen1(upstream, { ...ALL_7, limit: "50", filter_by: "new_on_board" })).json();
    const earlier = new Set<string>();
    for (let d = AS_OF_DAY - 30; d < AS_OF_DAY; d++) {
      for (const row of upstream.chart({ region: "all_regions", period: 7, industry: "nothing", day: formatDay(d) }))
        earlier.add(row.hashtagId);
    }
    expect(body.data.pagination.total).toBe(body.data.list.length);
    for (const item of body.data.list) expect(earlier.has(item.hashtag_id)).toBe(false);
  });

  it("answers 40000 to an unknown country or industry", async () => {
    const upstream = fake();
    expect((await gen1(upstream, { ...ALL_7, country_code: "XX" })).json()).toMatchObject({ code: 40000, msg: "invalid country_code" });
    expect((await gen1(upstream, { ...ALL_7, industry_id: "123" })).json()).toMatchObject({ code: 40000, msg: "invalid industry_id" });
    expect((await gen1(upstream, { ...ALL_7, limit: "51" })).json()).toMatchObject({ code: 40000, msg: "invalid limit" });
  });

  it("serves the country and industry filters from the reference data", async () => {
    const upstream = fake();
    const body = (await upstream.app.inject({ method: "GET", url: FAKE_UPSTREAM_PATHS.gen1Filters, headers: SIGNED })).json();
    expect(body).toMatchObject({ code: 0, msg: "OK", data: { country: REGIONS, industry: INDUSTRIES } });
    const refused = await upstream.app.inject({ method: "GET", url: FAKE_UPSTREAM_PATHS.gen1Filters });
    expect(refused.json().code).toBe(40101);
  });
});

describe("faults", () => {
  it("throttles with 429 and Retry-After, then answers normally", async () => {
    const upstream = fake([{ kind: "throttle", retryAfterSeconds: 7 }]);
    const throttled = await gen2(upstream, US_7);
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("7");
    expect((await gen2(upstream, US_7)).statusCode).toBe(200);
    expect(upstream.requests.map((r) => [r.status, r.fault])).toEqual([
      [429, "throttle"],
      [200, null],
    ]);
  });

  it("refuses with an HTML 403 and fails with an HTML 502", async () => {
    const upstream = fake([{ kind: "refuse" }, { kind: "server_error" }]);
    const refused = await gen1(upstream, ALL_7);
    expect([refused.statusCode, refused.headers["content-type"]]).toEqual([403, "text/html"]);
    expect(refused.body).toContain("Access Denied");
    const failed = await gen2(upstream, US_7);
    expect([failed.statusCode, failed.headers["content-type"]]).toEqual([502, "text/html"]);
  });

  it("holds the answer for delayMs on a timeout", async () => {
    const upstream = fake([{ kind: "timeout", delayMs: 80 }]);
    const started = performance.now();
    const response = await gen2(upstream, US_7);
    expect(performance.now() - started).toBeGreaterThanOrEqual(70);
    expect(response.json().items).toHaveLength(20);
  });

  it("truncates a logged-in answer to 3 rows", async () => {
    const upstream = fake([{ kind: "truncate", times: 2 }]);
    const second = (await gen2(upstream, US_7)).json();
    expect([second.items.length, second.pagination.totalCount, second.pagination.hasMore]).toEqual([3, 3, false]);
    const first = (await gen1(upstream, ALL_7)).json();
    expect([first.data.list.length, first.data.pagination.total, first.data.pagination.has_more]).toEqual([3, 3, false]);
  });

  it("cuts the body of a malformed answer", async () => {
    const upstream = fake([{ kind: "malformed", times: 2 }]);
    for (const response of [await gen2(upstream, US_7), await gen1(upstream, ALL_7)]) {
      expect(response.statusCode).toBe(200);
      expect(response.headers["content-type"]).toContain("application/json");
      expect(() => JSON.parse(response.body)).toThrow();
    }
  });

  it("breaks one row of an otherwise normal answer", async () => {
    const upstream = fake([{ kind: "bad_row", times: 2 }]);
    const items = (await gen2(upstream, US_7)).json().items;
    const broken = items.filter((i: Record<string, unknown>) => i.vv === -5);
    expect(broken).toHaveLength(1);
    expect(broken[0].hashtagName).toBeUndefined();
    const list = (await gen1(upstream, ALL_7)).json().data.list;
    expect(list.filter((i: Record<string, unknown>) => i.video_views === "lots")).toHaveLength(1);
  });

  it("answers an empty success", async () => {
    const upstream = fake([{ kind: "empty", times: 2 }]);
    const second = (await gen2(upstream, US_7)).json();
    expect([second.BaseResp.StatusCode, second.items, second.pagination.totalCount]).toEqual([0, [], 0]);
    const first = (await gen1(upstream, ALL_7)).json();
    expect([first.code, first.data.list, first.data.pagination.total]).toEqual([0, [], 0]);
  });

  it("pretends the session expired", async () => {
    const upstream = fake([{ kind: "expired_session", times: 2 }]);
    expect((await gen2(upstream, US_7)).json()).toEqual({ BaseResp: { StatusCode: 38001001, StatusMessage: "InvalidLogin" } });
    expect((await gen1(upstream, ALL_7)).json()).toMatchObject({ code: 40101, msg: "no permission" });
  });

  it("applies each fault to its count of requests of its generation, in order", async () => {
    const upstream = fake();
    upstream.inject({ kind: "refuse", times: 2, generation: 1 });
    upstream.inject({ kind: "throttle" });
    expect((await gen2(upstream, US_7)).statusCode).toBe(429);
    expect((await gen1(upstream, ALL_7)).statusCode).toBe(403);
    expect((await gen2(upstream, US_7)).statusCode).toBe(200);
    expect((await gen1(upstream, ALL_7)).statusCode).toBe(403);
    expect((await gen1(upstream, ALL_7)).statusCode).toBe(200);
    upstream.inject({ kind: "server_error", times: Infinity, generation: 2 });
    for (let i = 0; i < 5; i++) expect((await gen2(upstream, US_7)).statusCode).toBe(502);
    upstream.clearFaults();
    expect((await gen2(upstream, US_7)).statusCode).toBe(200);
    expect(upstream.requests.map((r) => r.generation)).toEqual([2, 1, 2, 1, 1, 2, 2, 2, 2, 2, 2]);
  });

  it("rejects a fault of an unknown kind", () => {
    expect(() => fake().inject({ kind: "gremlins" } as unknown as Fault)).toThrow(/gremlins/);
    expect(FAULT_KINDS).toHaveLength(9);
  });
});

describe("control routes", () => {
  it("queues faults, clears them, moves the day and lists the requests", async () => {
    const upstream = fake();
    const post = (url: string, body: unknown) => upstream.app.inject({ method: "POST", url, payload: body as object });
    expect((await post(FAKE_UPSTREAM_PATHS.faults, { kind: "empty" })).statusCode).toBe(204);
    expect((await post(FAKE_UPSTREAM_PATHS.faults, [{ kind: "throttle", times: "Infinity", generation: 1 }])).statusCode).toBe(204);
    const unknown = await post(FAKE_UPSTREAM_PATHS.faults, [{ kind: "throttle" }, { kind: "gremlins" }]);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toContain("gremlins");
    expect((await gen2(upstream, US_7)).json().items).toEqual([]);
    expect((await gen1(upstream, ALL_7)).statusCode).toBe(429);
    expect((await upstream.app.inject({ method: "DELETE", url: FAKE_UPSTREAM_PATHS.faults })).statusCode).toBe(204);
    expect((await gen1(upstream, ALL_7)).statusCode).toBe(200);

    const before = (await gen2(upstream, US_7)).json().items[0].popularityCurve;
    expect((await post(FAKE_UPSTREAM_PATHS.asOf, { day: "2026-02-01" })).statusCode).toBe(204);
    expect((await post(FAKE_UPSTREAM_PATHS.asOf, { day: "2026-02-30" })).statusCode).toBe(400);
    const after = (await gen2(upstream, US_7)).json().items[0].popularityCurve;
    expect(Number(after.at(-1).timestamp) - Number(before.at(-1).timestamp)).toBe(5 * SECONDS_PER_DAY);

    await upstream.app.inject({ method: "GET", url: "/nowhere?x=1" });
    const log = (await upstream.app.inject({ method: "GET", url: FAKE_UPSTREAM_PATHS.requests })).json();
    expect(log.map((r: { generation: number; status: number; fault: string | null }) => [r.generation, r.status, r.fault])).toEqual([
      [2, 200, "empty"],
      [1, 429, "throttle"],
      [1, 200, null],
      [2, 200, null],
      [2, 200, null],
      [0, 404, null],
    ]);
    expect(log[0]).toMatchObject({ path: FAKE_UPSTREAM_PATHS.gen2List, params: US_7, loggedIn: true });
    expect(log[5]).toMatchObject({ path: "/nowhere", params: { x: "1" } });
  });
});

describe("listening", () => {
  it("closes promptly while a timeout holds a request", async () => {
    const upstream = fake([{ kind: "timeout", delayMs: 60_000 }]);
    const base = await upstream.listen(0);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const pending = fetch(`${base}${FAKE_UPSTREAM_PATHS.gen2List}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...LOGIN },
      body: JSON.stringify(US_7),
      signal: AbortSignal.timeout(10_000),
    });
    const outcome = pending.then(
      () => "answered",
      () => "dropped",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await upstream.close();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await outcome).toBe("dropped");
  });

  it("drops a held answer when the client hangs up, and says so in the log", async () => {
    const upstream = fake([{ kind: "timeout", delayMs: 60_000, generation: 1 }]);
    const base = await upstream.listen();
    try {
      const hangUp = new AbortController();
      const pending = fetch(`${base}${FAKE_UPSTREAM_PATHS.gen1List}?period=7`, { headers: SIGNED, signal: hangUp.signal });
      await new Promise((resolve) => setTimeout(resolve, 100));
      hangUp.abort();
      await expect(pending).rejects.toThrow();
      for (let i = 0; i < 50 && upstream.requests.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(upstream.requests).toMatchObject([{ generation: 1, status: 0, fault: "timeout", loggedIn: true }]);
      const response = await fetch(`${base}${FAKE_UPSTREAM_PATHS.gen1List}?period=7`, { headers: SIGNED });
      expect(((await response.json()) as { code: number }).code).toBe(0);
    } finally {
      await upstream.close();
    }
  });
});
