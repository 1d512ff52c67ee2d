import fs from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer, everyLatestChart } from "../src/http/server.js";
import { createSimulation } from "../src/sources/simulator.js";
import { createTestContext, TEST_DATABASES, type TestContext } from "./databases.js";
import { newCaller } from "./keys.js";

const PATH = "/v1/tiktok/trending/hashtags";

/** The example response of the documentation page the API is compatible with, verbatim. */
function seedExample(): unknown {
  return JSON.parse(fs.readFileSync(new URL("./fixtures/documented-example.json", import.meta.url), "utf8"));
}

/** Every key path of a JSON value with its JSON type, in key order; array items are described by their first. */
function shape(value: unknown, path = "$"): [string, string][] {
  if (Array.isArray(value)) return [[path, "array"], ...(value.length > 0 ? shape(value[0], `${path}[]`) : [])];
  if (value === null) return [[path, "null"]];
  if (typeof value === "object") {
    return [[path, "object"], ...Object.entries(value).flatMap(([key, v]) => shape(v, `${path}.${key}`))];
  }
  return [[path, typeof value]];
}

async function* asInput(values: Iterable<unknown>) {
  let line = 0;
  for (const value of values) yield { line: ++line, value };
}

for (const database of TEST_DATABASES) {
  describe.skipIf(!database.enabled)(`the public API on ${database.name}`, () => {
    let context: TestContext;
    let app: FastifyInstance;
    let auth: Record<string, string>;
    const get = (url: string, headers: Record<string, string> = auth) => app.inject({ method: "GET", url, headers });

    beforeAll(async () => {
      context = await createTestContext(database.name);
      const simulation = createSimulation({ seed: 7, days: 20, videosPerDay: 150, startDay: 20_454 });
      await context.ingest.ingestCatalog(asInput(simulation.catalog));
      await context.ingest.ingestObservations(asInput(simulation.observations()));
      await context.engine.build();
      auth = (await newCaller(context)).headers;
      app = (await buildServer(context, { logger: false })).app;
    }, 120_000);

    afterAll(async () => {
      await app?.close();
      await context?.dispose();
    });

    it("answers the documented example request with exactly the example's keys, order and JSON types, plus the documented extras", async () => {
      const response = await get(`${PATH}?page=1&limit=20&period=7&region=all_regions&industry_id=nothing&new_to_top_100=false`);
      expect(response.statusCode).toBe(200);
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      const body = response.json<{ requestId: string; data: { list: { industry_info: { id: unknown } }[] } }>();
      // The example's row has a known industry, whose id is a number: compare with such a row.
      const rows = [...body.data.list];
      for (let page = 2; page <= 5; page++) rows.push(...(await get(`${PATH}?page=${page}`)).json().data.list);
      const known = rows.find((item) => typeof item.industry_info.id === "number");
      expect(known).toBeDefined();
      const extras = [
        "$.data.list[].rank_diff",
        "$.data.as_of",
        "$.data.window_start",
        "$.data.window_end",
        "$.data.source",
        "$.data.collected_at",
        "$.data.complete",
      ];
      const actual = shape({ ...body, data: { ...body.data, list: [known] } }).filter(([path]) => !extras.includes(path));
      expect(actual).toEqual(shape(seedExample()));
      expect(response.headers["x-request-id"]).toBe(body.requestId);
    });

    it("applies the defaults, clamps limit to 20 and pages past the end to an empty list", async () => {
      const plain = (await get(PATH)).json();
      const explicit = (await get(`${PATH}?page=1&limit=20&period=7&region=all_regions&industry_id=nothing&new_to_top_100=false`)).json();
      expect({ ...plain, requestId: "" }).toEqual({ ...explicit, requestId: "" });
      const clamped = (await get(`${PATH}?limit=100`)).json();
      expect(clamped.data.pagination).toMatchObject({ page: 1, size: 20, has_more: true });
      const total = clamped.data.pagination.total;
      const last = (await get(`${PATH}?page=${Math.ceil(total / 20)}`)).json();
      expect(last.data.pagination.has_more).toBe(false);
      const past = (await get(`${PATH}?page=99`)).json();
      expect(past.data).toMatchObject({ list: [], pagination: { page: 99, size: 0, total, has_more: false } });
    });

    it("reads region in any case, UK as GB, industry in any case, and ignores unknown parameters", async () => {
      const gb = (await get(`${PATH}?region=GB&period=30`)).json();
      for (const region of ["gb", "Gb", "UK", "uk"]) {
        const other = (await get(`${PATH}?region=${region}&period=30&utm_source=x`)).json();
        expect({ ...other, requestId: "" }).toEqual({ ...gb, requestId: "" });
      }
      for (const item of gb.data.list) expect(item.country_info).toEqual({ id: "GB", value: "United Kingdom", label: "GB" });
      const nothing = (await get(`${PATH}?industry_id=NOTHING`)).json();
      expect(nothing.code).toBe(0);
    });

    it("with new_to_top_100=true lists only the rows new to the chart's top 100, keeping their ranks, and counts them", async () => {
      const all = (await get(`${PATH}?period=30&limit=20`)).json();
      const fresh = (await get(`${PATH}?period=30&new_to_top_100=TRUE`)).json();
      expect(fresh.data.pagination.total).toBeLessThanOrEqual(all.data.pagination.total);
      const ranks = fresh.data.list.map((item: { rank: number }) => item.rank);
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      // On the data's first day every row is new.
      const firstDay = (await get(`${PATH}?as_of=2026-01-01&new_to_top_100=true`)).json();
      const firstAll = (await get(`${PATH}?as_of=2026-01-01`)).json();
      expect(firstDay.data.pagination.total).toBe(firstAll.data.pagination.total);
    });

    it.each([
      ["period=8", "period", "period must be one of 7, 30, 120"],
      ["period=7.0", "period", "period must be one of 7, 30, 120"],
      ["region=XX", "region", 'region must be all_regions or a supported country code, got "XX"'],
      ["industry_id=123", "industry_id", 'industry_id must be nothing or a first-level industry id, got "123"'],
      ["new_to_top_100=yes", "new_to_top_100", "new_to_top_100 must be true or false"],
      ["page=0", "page", 'page must be an integer >= 1, got "0"'],
      ["page=-1", "page", 'page must be an integer >= 1, got "-1"'],
      ["limit=abc", "limit", 'limit must be an integer >= 1, got "abc"'],
      ["as_of=2026-13-01", "as_of", 'as_of must be a date as YYYY-MM-DD, got "2026-13-01"'],
    ])("refuses %s with a 400 naming %s", async (query, param, message) => {
      const response = await get(`${PATH}?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        code: 400,
        message,
        data: null,
        requestId: response.headers["x-request-id"],
        error: { type: "invalid_parameter", param },
      });
    });

    it("refuses a call without a valid Bearer key with a 401, before looking at its parameters", async () => {
      const refused: Record<string, string>[] = [
        {},
        { authorization: auth.authorization!.slice("Bearer ".length) },
        { authorization: "Bearer " },
        { authorization: "Basic dXNlcjpwYXNz" },
        { authorization: "Bearer tp_live_0OIl" },
      ];
      for (const headers of refused) {
        const response = await get(`${PATH}?period=8`, headers);
        expect(response.statusCode).toBe(401);
        expect(response.json()).toMatchObject({ code: 401, data: null, error: { type: "unauthorized" } });
      }
    });

    it("answers unknown paths with a 404 envelope and days without charts with a 503", async () => {
      const missing = await get("/v1/tiktok/trending/nothing-here");
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ code: 404, data: null, error: { type: "not_found" } });
      const before = await get(`${PATH}?as_of=2025-01-01`);
      expect(before.statusCode).toBe(503);
      expect(before.json()).toMatchObject({ code: 503, data: null, error: { type: "no_data" } });
    });

    it("echoes a sane X-Request-Id and replaces any other", async () => {
      const echoed = await get(PATH, { ...auth, "x-request-id": "client-42.a:b" });
      expect(echoed.headers["x-request-id"]).toBe("client-42.a:b");
      expect(echoed.json().requestId).toBe("client-42.a:b");
      const replaced = await get(PATH, { ...auth, "x-request-id": "<script>" });
      expect(replaced.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("lists regions and industries for free, in the same envelope", async () => {
      const regions = (await get("/v1/tiktok/trending/regions", {})).json();
      expect(regions.code).toBe(0);
      expect(regions.data.list).toContainEqual({ id: "US", value: "United States", label: "US" });
      const industries = (await get("/v1/tiktok/trending/industries", {})).json();
      expect(industries.data.list).toContainEqual({ id: 11000000000, value: "Vehicle & Transportation", label: "label_11000000000" });
    });

    it("publishes a valid OpenAPI 3.1 document that real responses conform to", async () => {
      const document = (await get("/openapi.json", {})).json();
      const validation = await new Validator().validate(document);
      expect(validation.errors ?? []).toEqual([]);
      expect(validation.valid).toBe(true);
      const operation = document.paths[PATH].get;
      const ajv = new Ajv2020({ strict: false });
      const check = (status: string, body: unknown) => {
        const valid = ajv.validate(operation.responses[status].content["application/json"].schema, body);
        expect(ajv.errors ?? []).toEqual([]);
        expect(valid).toBe(true);
      };
      for (const query of ["", "?period=120&region=US", "?period=30&new_to_top_100=true", "?page=50"])
        check("200", (await get(`${PATH}${query}`)).json());
      check("400", (await get(`${PATH}?period=1`)).json());
      check("401", (await get(PATH, {})).json());
      // The documented example, as the 200 response's example.
      const example = operation.responses["200"].content["application/json"].example;
      expect(example.data.list[0].hashtag_name).toBe("clean");
      check("200", example);
    });

    it("reports health, readiness with the charts' day, and Prometheus metrics by route and status", async () => {
      expect((await get("/healthz", {})).json()).toEqual({ status: "ok" });
      const ready = (await get("/readyz", {})).json();
      expect(ready).toMatchObject({ status: "ready", database: "ok", charts: { as_of: "2026-01-20" } });
      await get(PATH);
      const metrics = (await get("/metrics", {})).body;
      expect(metrics).toMatch(/tagpulse_http_requests_total\{method="GET",route="\/v1\/tiktok\/trending\/hashtags",status="200"\} \d+/);
      expect(metrics).toMatch(/tagpulse_http_request_duration_seconds_bucket/);
      expect(metrics).toMatch(/tagpulse_chart_age_seconds \d+/);
      expect((await get("/docs/", {})).statusCode).toBe(200);
    });
  });
}

describe("the public API as data arrives", () => {
  it("serves the new charts once a build replaces them", async () => {
    const context = await createTestContext("SQLite");
    const { app } = await buildServer(context, { logger: false, chartRecheckMs: 0 });
    const auth = (await newCaller(context)).headers;
    try {
      const simulation = createSimulation({ seed: 11, days: 6, videosPerDay: 60, startDay: 20_454 });
      const records = [...simulation.observations()] as { observed_at: number }[];
      const lastDay = Math.max(...records.map((r) => Math.floor(r.observed_at / 86_400)));
      await context.ingest.ingestCatalog(asInput(simulation.catalog));
      await context.ingest.ingestObservations(asInput(records.filter((r) => Math.floor(r.observed_at / 86_400) < lastDay)));
      await context.engine.build();
      const before = (await app.inject({ method: "GET", url: PATH, headers: auth })).json();
      await context.ingest.ingestObservations(asInput(records));
      await context.engine.build();
      const after = (await app.inject({ method: "GET", url: PATH, headers: auth })).json();
      expect(after.data.as_of > before.data.as_of).toBe(true);
      expect(after.data.as_of).toBe(new Date(lastDay * 86_400_000).toISOString().slice(0, 10));
    } finally {
      await app.close();
      await context.dispose();
    }
  });

  it("answers a paid request while the latest charts are still being rendered ahead of requests", async () => {
    const context = await createTestContext("SQLite");
    const { app, charts } = await buildServer(context, { logger: false });
    try {
      const simulation = createSimulation({ seed: 5, days: 10, videosPerDay: 120, startDay: 20_454 });
      await context.ingest.ingestCatalog(asInput(simulation.catalog));
      await context.ingest.ingestObservations(asInput(simulation.observations()));
      await context.engine.build();
      const caller = await newCaller(context, { credits: 10 });
      const warming = charts.warm(everyLatestChart());
      const response = await app.inject({ method: "GET", url: `${PATH}?region=US&period=30`, headers: caller.headers });
      // Answered and charged while the warm-up goes on, not after it.
      expect(charts.warming).toBe(true);
      expect(response.statusCode).toBe(200);
      expect(response.headers["x-credits-remaining"]).toBe("8");
      await warming;
    } finally {
      await app.close();
      await context.dispose();
    }
  });

  it("answers 503 no_data and is not ready before the first build", async () => {
    const context = await createTestContext("SQLite");
    const { app } = await buildServer(context, { logger: false });
    const auth = (await newCaller(context)).headers;
    try {
      const response = await app.inject({ method: "GET", url: PATH, headers: auth });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ code: 503, data: null, error: { type: "no_data" } });
      expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(503);
    } finally {
      await app.close();
      await context.dispose();
    }
  });
});
