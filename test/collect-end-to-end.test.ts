import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/config.js";
import { createContext, type AppContext } from "../src/context.js";
import { CHART_INDUSTRIES, CHART_REGIONS, PERIODS } from "../src/domain/chart-model.js";
import { buildServer } from "../src/http/server.js";
import type { CollectionReport } from "../src/sources/creative-center/collector.js";
import { createFakeUpstream, type FakeUpstream } from "../src/sources/creative-center/fake-upstream.js";
import { freePort } from "./free-port.js";
import { newCaller } from "./keys.js";

const run = promisify(execFile);
const cli = path.resolve("dist/cli/main.js");
const AS_OF = "2026-11-20";
const SESSION = { sessionId: "e2e-session", csrfToken: "e2e-csrf" };

let fake: FakeUpstream;
let baseUrl: string;
let dir: string;

beforeAll(async () => {
  if (!fs.existsSync(cli)) throw new Error("dist/cli/main.js is missing: build it first (npm run build)");
  fake = createFakeUpstream({ seed: 3, asOf: AS_OF, session: SESSION });
  baseUrl = await fake.listen(0);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-collect-"));
});
afterAll(async () => {
  await fake.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function connectorEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CC_BASE_URL: baseUrl,
    CC_SESSION_ID: SESSION.sessionId,
    CC_CSRF_TOKEN: SESSION.csrfToken,
    CC_REQUESTS_PER_SECOND: "1000",
    LOG_LEVEL: "warn",
    ...extra,
  };
}

async function withContext<T>(dbFile: string, use: (context: AppContext) => Promise<T>): Promise<T> {
  const context = await createContext(loadConfig({}, { databaseUrl: dbFile }));
  try {
    return await use(context);
  } finally {
    await context.close();
  }
}

describe("a full collection sweep served through the public API", () => {
  const dbFile = () => path.join(dir, "sweep.db");
  let report: CollectionReport;

  beforeAll(async () => {
    const { stdout } = await run(process.execPath, [cli, "--db", dbFile(), "collect", "--json"], {
      env: connectorEnv(),
      maxBuffer: 1 << 24,
    });
    report = JSON.parse(stdout) as CollectionReport;
  }, 180_000);

  it("sweeps every country, period and industry, skipping only the all-regions charts generation 2 cannot ask for", () => {
    const countries = CHART_REGIONS.length - 1;
    expect(report.charts.planned).toBe(CHART_REGIONS.length * PERIODS.length * CHART_INDUSTRIES.length);
    expect(report.charts.unsupported).toBe(PERIODS.length * CHART_INDUSTRIES.length);
    expect(report.charts.skipped).toBe(0);
    expect(report.charts.stored + report.charts.previews + report.charts.failed).toBe(countries * PERIODS.length * CHART_INDUSTRIES.length);
    expect(report.charts.stored).toBeGreaterThan(0.9 * countries * PERIODS.length * CHART_INDUSTRIES.length);
    expect(report.stopped).toBeNull();
    expect(report.requests).toBe(fake.requests.length);
  });

  it("answers the trending endpoint from the collected charts, page by page, charged, saying their source and age", async () => {
    await withContext(dbFile(), async (context) => {
      const { app } = await buildServer(context, { logger: false });
      const caller = await newCaller(context, { credits: 100 });
      try {
        for (const query of [
          { region: "US", period: 30 as const, industry: "nothing" },
          { region: "JP", period: 120 as const, industry: "nothing" },
        ]) {
          const truth = fake.chart(query);
          const names: string[] = [];
          for (let page = 1; page <= 5; page++) {
            const response = await app.inject({
              url: `/v1/tiktok/trending/hashtags?page=${page}&limit=20&period=${query.period}&region=${query.region}&industry_id=nothing`,
              headers: caller.headers,
            });
            expect(response.statusCode).toBe(200);
            expect(response.headers["x-chart-source"]).toBe("creative_center");
            expect(response.headers["x-credits-cost"]).toBe("2");
            const body = response.json();
            expect(body.data).toMatchObject({ as_of: AS_OF, source: "creative_center", pagination: { page, total: 100 } });
            expect(Date.parse(body.data.collected_at)).toBeGreaterThan(Date.now() - 600_000);
            names.push(...body.data.list.map((item: { hashtag_name: string }) => item.hashtag_name));
            const trend = body.data.list[0].trend as { value: number }[];
            expect(trend).toHaveLength(query.period === 120 ? 18 : query.period);
          }
          expect(names).toEqual(truth.map((t) => t.name));
        }
        // Nothing was collected before this day: every row is new to its top 100.
        const fresh = await app.inject({ url: "/v1/tiktok/trending/hashtags?region=US&new_to_top_100=true", headers: caller.headers });
        expect(fresh.json().data.pagination.total).toBe(100);
        expect((await context.accounts.getAccount(caller.accountId)).balance).toBe(100 - 2 * 11);
      } finally {
        await app.close();
      }
    });
  });
});

describe("tagpulse collect when the upstream refuses", () => {
  it("stops after the configured refusals in a row, says why, stores nothing and exits with 1", async () => {
    const failed = await run(process.execPath, [cli, "--db", path.join(dir, "refused.db"), "collect"], {
      env: connectorEnv({ CC_SESSION_ID: "expired", CC_RETRIES: "0", CC_REFUSALS_BEFORE_STOP: "2", CC_REGIONS: "US,FR", CC_PERIODS: "7" }),
    }).then(
      () => undefined,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toMatch(/collected 0 of 38 charts complete, .* 1 failed, 37 skipped/);
    expect(failed?.stdout).toMatch(/stopped: 2 refusals in a row, the last: the session is not logged in \(StatusCode 38001001\)/);
    await withContext(path.join(dir, "refused.db"), async (context) => {
      expect(await context.upstreamCharts.lastFetchedAt()).toBeNull();
      // The server tells its operator that collecting is paused, and why.
      const { app } = await buildServer(context, { logger: false });
      const ready = (await app.inject({ url: "/readyz" })).json();
      await app.close();
      expect(ready.collection_paused).toEqual({
        until: expect.stringMatching(/^\d{4}-/),
        reason: "2 refusals in a row, the last: the session is not logged in (StatusCode 38001001)",
      });
    });
  });
});

describe("tagpulse fake-upstream", () => {
  it("serves until SIGTERM, prints the settings to collect from it, and misbehaves as its --fault options say", async () => {
    const child = spawn(process.execPath, [cli, "fake-upstream", "--port", "0", "--fault", "throttle:1", "--as-of", AS_OF], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      for (let tries = 0; !/CC_BASE_URL=\S+/.test(out); tries++) {
        if (tries > 100 || child.exitCode !== null) throw new Error(`the fake did not start:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const base = /CC_BASE_URL=(\S+)/.exec(out)![1]!;
      expect(out).toMatch(/CC_SESSION_ID=fake-session CC_CSRF_TOKEN=fake-csrf tagpulse collect/);
      const ask = () =>
        fetch(`${base}/CreativeOne/KnowledgeAPI/GetHashtagList`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ countryCode: "US", timeRange: 7, page: 1, limit: 20 }),
        });
      const throttled = await ask();
      expect([throttled.status, throttled.headers.get("retry-after")]).toEqual([429, "1"]);
      const preview = (await (await ask()).json()) as { items: unknown[] };
      expect(preview.items).toHaveLength(3);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });

  it("refuses a fault it does not know, naming the kinds it does, with exit code 2", async () => {
    const failed = await run(process.execPath, [cli, "fake-upstream", "--port", "0", "--fault", "meltdown"]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(/--fault must be kind\[:times\], kind one of throttle, refuse, server_error/);
  });
});

describe("tagpulse serve --collect-every", () => {
  it("collects in the background while answering requests, then serves what it collected", async () => {
    const dbFile = path.join(dir, "serve.db");
    const secret = await withContext(dbFile, async (context) => (await newCaller(context, { credits: 10 })).secret);
    fake.clearFaults();
    // The sweep's first request hangs for 2 s: the server must answer meanwhile.
    fake.inject({ kind: "timeout", delayMs: 2_000 });
    const port = await freePort();
    const child = spawn(process.execPath, [cli, "--db", dbFile, "serve", "--port", String(port), "--collect-every", "1h"], {
      env: connectorEnv({
        CC_REGIONS: "US",
        CC_PERIODS: "7",
        CC_INDUSTRIES: "nothing",
        CHART_SOURCES: "creative_center",
        HOST: "127.0.0.1",
      }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const base = `http://127.0.0.1:${port}`;
    try {
      const answeredAt: number[] = [];
      for (let tries = 0; ; tries++) {
        if (child.exitCode !== null) throw new Error(`the server exited:\n${out}`);
        const ready = await fetch(`${base}/readyz`).catch(() => undefined);
        if (ready) answeredAt.push(Date.now());
        if (ready?.ok) break;
        if (tries > 300) throw new Error(`no collected chart became ready:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const response = await fetch(`${base}/v1/tiktok/trending/hashtags?region=US&period=7`, {
        headers: { authorization: `Bearer ${secret}` },
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { data: { source: string; as_of: string; list: { hashtag_name: string }[] } };
      expect([body.data.source, body.data.as_of]).toEqual(["creative_center", AS_OF]);
      expect(body.data.list.map((item) => item.hashtag_name)).toEqual(
        fake
          .chart({ region: "US", period: 7, industry: "nothing" })
          .slice(0, 20)
          .map((t) => t.name),
      );
      // The run is counted once it has ended, a moment after its chart was stored.
      let metrics = "";
      for (let tries = 0; tries < 100 && !/^tagpulse_collection_runs_total/m.test(metrics); tries++) {
        if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        metrics = await (await fetch(`${base}/metrics`)).text();
      }
      expect(metrics).toMatch(/^tagpulse_collection_runs_total\{result="complete"\} 1$/m);
      expect(metrics).toMatch(/^tagpulse_collection_charts_total\{outcome="stored"\} 1$/m);
      expect(metrics).toMatch(/^tagpulse_collected_chart_age_seconds \d/m);
      const held = fake.requests.find((r) => r.fault === "timeout")!;
      expect(answeredAt.some((at) => at > held.at + 100 && at < held.at + 1_900)).toBe(true);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  }, 60_000);
});
