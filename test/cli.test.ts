import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import SqliteDatabase from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/config.js";
import { createContext } from "../src/context.js";

const run = promisify(execFile);
const cli = path.resolve("dist/cli/main.js");
let dir: string;

async function tagpulse(...args: string[]) {
  return tagpulseOn("t.db", ...args);
}

async function tagpulseOn(db: string, ...args: string[]) {
  return run(process.execPath, [cli, "--db", path.join(dir, db), ...args], { cwd: dir, maxBuffer: 1 << 26 });
}

/** When an NDJSON observation line was observed, in seconds. */
function observedAt(line: string): number {
  return (JSON.parse(line) as { observed_at: number }).observed_at;
}

/** `tagpulse simulate` of a world starting on 2026-03-01. */
async function simulate(world: { seed: number; days: number; videosPerDay: number; out: string; catalog: string }) {
  const { seed, days, videosPerDay, out, catalog } = world;
  const options = {
    "--seed": seed,
    "--days": days,
    "--videos-per-day": videosPerDay,
    "--start": "2026-03-01",
    "--out": out,
    "--catalog": catalog,
  };
  return tagpulse("simulate", ...Object.entries(options).flatMap(([option, value]) => [option, String(value)]));
}

describe("the tagpulse command", () => {
  beforeAll(() => {
    if (!fs.existsSync(cli)) throw new Error("dist/cli/main.js is missing: npm test builds it first (npm run build)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-cli-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("lists its commands", async () => {
    const { stdout } = await run(process.execPath, [cli, "--help"]);
    for (const command of ["simulate", "ingest", "build", "chart", "serve", "start", "accounts", "keys", "credits", "usage"])
      expect(stdout).toContain(command);
  });

  it("simulates, ingests and prints a chart with every row in the API's shape", async () => {
    await simulate({ seed: 3, days: 10, videosPerDay: 300, out: "obs.ndjson", catalog: "catalog.json" });
    const ingest = await tagpulse("ingest", "obs.ndjson", "--catalog", "catalog.json", "--json");
    const report = JSON.parse(ingest.stdout) as {
      files: Record<string, { read: number; accepted: number; rejected: number }>;
      build: { days: number };
    };
    expect(report.files["obs.ndjson"]!.rejected).toBe(0);
    expect(report.files["obs.ndjson"]!.accepted).toBeGreaterThan(1000);
    expect(report.build.days).toBe(10);

    const { stdout } = await tagpulse("chart", "--region", "us", "--period", "30", "--industry", "nothing");
    const chart = JSON.parse(stdout) as {
      as_of: string;
      window_start: string;
      window_end: string;
      total: number;
      list: Record<string, unknown>[];
    };
    expect(chart).toMatchObject({ as_of: "2026-03-10", window_start: "2026-03-01", window_end: "2026-03-10" });
    expect(chart.list).toHaveLength(chart.total);
    expect(chart.total).toBe(100);
    expect(Object.keys(chart.list[0]!)).toEqual([
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
    expect(chart.list[0]!.trend).toHaveLength(10);
  });

  it("serves the API, logs each request without its key, and on SIGTERM answers the request in flight, then exits", async () => {
    await tagpulse("accounts", "create", "log-test", "--credits", "100");
    const issued = JSON.parse((await tagpulse("keys", "create", "--account", "log-test", "--json")).stdout) as { secret: string };
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const server = spawn(process.execPath, [cli, "--db", path.join(dir, "t.db"), "serve", "--port", String(port)], {
      cwd: dir,
      env: { ...process.env, LOG_LEVEL: "info" },
    });
    let out = "";
    server.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    server.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${issued.secret}` };
    for (let tries = 0; ; tries++) {
      const ready = await fetch(`${base}/readyz`).catch(() => undefined);
      if (ready?.ok) break;
      if (tries > 200) throw new Error(`the server did not become ready:\n${out}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await fetch(`${base}/v1/tiktok/trending/hashtags`, { headers })).status).toBe(200);
    // A chart of an earlier day is rendered on request: the signal arrives while it is.
    const inFlight = fetch(`${base}/v1/tiktok/trending/hashtags?period=120&region=US&as_of=2026-03-05`, { headers });
    await new Promise((resolve) => setTimeout(resolve, 5));
    server.kill("SIGTERM");
    expect((await inFlight).status).toBe(200);
    expect(await exited).toBe(0);
    const lines = out.split("\n").filter((line) => line.startsWith("{"));
    const requests = lines
      .map((line) => JSON.parse(line) as { msg: string; reqId?: string; url?: string })
      .filter((l) => l.msg === "request");
    expect(requests.length).toBeGreaterThanOrEqual(3);
    for (const line of requests) expect(line.reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out).not.toContain(issued.secret);
    expect(out).toContain("shutting down");
  }, 60_000);

  /** Each derived table of database file `file` as its row count and a digest of its rows in key order. */
  const derived = (file: string) => {
    const sqlite = new SqliteDatabase(path.join(dir, file), { readonly: true });
    const tables = ["charts", "chart_series", "chart_windows", "tag_series", "region_days"].map((table) => {
      const digest = crypto.createHash("sha256");
      let rows = 0;
      for (const row of sqlite.prepare(`select * from ${table} order by 1, 2, 3`).raw().iterate() as Iterable<unknown[]>) {
        for (const value of row) digest.update(value instanceof Uint8Array ? value : String(value)).update("|");
        rows++;
      }
      return { table, rows, digest: digest.digest("hex") };
    });
    sqlite.close();
    return tables;
  };

  it("brings a database file up to date day by day, to the same charts as a full rebuild", async () => {
    // 40 days from 2026-03-01 cross boundaries of the engine's 16-day series blocks (2026-03-16, 2026-04-01).
    await simulate({ seed: 5, days: 40, videosPerDay: 150, out: "long.ndjson", catalog: "long-catalog.json" });
    const lines = fs.readFileSync(path.join(dir, "long.ndjson"), "utf8").split("\n").filter(Boolean);
    const feedStart = Date.UTC(2026, 3, 5) / 1000;
    const isFeed = (line: string) => observedAt(line) >= feedStart;
    fs.writeFileSync(path.join(dir, "history.ndjson"), lines.filter((l) => !isFeed(l)).join("\n"));
    const feed = lines.filter(isFeed);
    for (let day = 0; day < 5; day++) {
      const today = feed.filter((l) => Math.floor(observedAt(l) / 86_400) === feedStart / 86_400 + day);
      fs.writeFileSync(path.join(dir, `day-${day}.ndjson`), today.join("\n"));
    }

    await tagpulseOn("daily.db", "ingest", "history.ndjson", "--catalog", "long-catalog.json");
    for (let day = 0; day < 5; day++) await tagpulseOn("daily.db", "ingest", `day-${day}.ndjson`);
    const charts = async () => {
      const out: string[] = [];
      for (const [region, period, asOf] of [
        ["all_regions", "120", "2026-04-09"],
        ["us", "7", "2026-04-09"],
        ["gb", "30", "2026-04-07"],
        ["all_regions", "7", "2026-04-04"],
      ] as const) {
        out.push(
          (await tagpulseOn("daily.db", "chart", "--region", region, "--period", period, "--industry", "nothing", "--as-of", asOf)).stdout,
        );
      }
      return out;
    };
    const daily = await charts();
    // Written while the last day was ranked, by the compiled build's writing thread.
    const dailyTables = derived("daily.db");
    await tagpulseOn("daily.db", "build", "--full");
    expect(await charts()).toEqual(daily);
    expect(derived("daily.db")).toEqual(dailyTables);
    expect((JSON.parse(daily[0]!) as { total: number }).total).toBe(100);
  });

  it("writes nothing of a build whose writing thread fails, says why, and builds it all when run again", async () => {
    await simulate({ seed: 9, days: 12, videosPerDay: 60, out: "refuse.ndjson", catalog: "refuse-catalog.json" });
    const lines = fs.readFileSync(path.join(dir, "refuse.ndjson"), "utf8").split("\n").filter(Boolean);
    const lastDay = Date.UTC(2026, 2, 12) / 1000;
    fs.writeFileSync(path.join(dir, "refuse-first.ndjson"), lines.filter((l) => observedAt(l) < lastDay).join("\n"));
    fs.writeFileSync(path.join(dir, "refuse-last.ndjson"), lines.filter((l) => observedAt(l) >= lastDay).join("\n"));
    await tagpulseOn("refuse.db", "ingest", "refuse-first.ndjson", "--catalog", "refuse-catalog.json");
    const before = derived("refuse.db");
    const sql = (statement: string) => {
      const sqlite = new SqliteDatabase(path.join(dir, "refuse.db"));
      sqlite.exec(statement);
      sqlite.close();
    };
    // The last of the build's writes, on the compiled build's writing thread, is refused.
    sql("create trigger refuse_series before insert on chart_series begin select raise(abort, 'chart series refused'); end");
    await expect(tagpulseOn("refuse.db", "ingest", "refuse-last.ndjson")).rejects.toMatchObject({
      stderr: expect.stringMatching(/SQLITE_CONSTRAINT\w*: chart series refused/),
    });
    expect(derived("refuse.db")).toEqual(before);

    sql("drop trigger refuse_series");
    // The ingest's stale marks outlived the failed build: the next one picks them up.
    expect(JSON.parse((await tagpulseOn("refuse.db", "build", "--json")).stdout)).toMatchObject({ built: true });
    const incremental = derived("refuse.db");
    expect(incremental).not.toEqual(before);
    await tagpulseOn("refuse.db", "build", "--full");
    expect(derived("refuse.db")).toEqual(incremental);
  });

  it("ranks a long build on two threads to the same bytes as on one", async () => {
    await simulate({ seed: 8, days: 45, videosPerDay: 80, out: "two.ndjson", catalog: "two-catalog.json" });
    const lines = fs.readFileSync(path.join(dir, "two.ndjson"), "utf8").split("\n").filter(Boolean);
    const split = Date.UTC(2026, 2, 11) / 1000;
    const early = (line: string) => observedAt(line) < split;
    fs.writeFileSync(path.join(dir, "two-first.ndjson"), lines.filter(early).join("\n"));
    fs.writeFileSync(path.join(dir, "two-rest.ndjson"), lines.filter((line) => !early(line)).join("\n"));
    type Report = { build: { fromDay: number; firstDay: number; days: number; rankingThreads: number } };
    await tagpulseOn("two.db", "ingest", "two-first.ndjson", "--catalog", "two-catalog.json");
    // The compiled build, of more than 30 days after stored ones: the second thread gets stored days and saved windows too.
    const { build } = JSON.parse((await tagpulseOn("two.db", "ingest", "two-rest.ndjson", "--json")).stdout) as Report;
    expect(build.fromDay).toBeGreaterThan(build.firstDay);
    expect(build.days).toBeGreaterThanOrEqual(30);
    expect(build.rankingThreads).toBe(2);
    const twoThreads = derived("two.db");
    expect(twoThreads[0]!.rows).toBeGreaterThan(45 * 1000);

    // Run from TypeScript sources, the same engine ranks on this thread alone.
    const context = await createContext(loadConfig({}, { databaseUrl: path.join(dir, "two.db") }));
    const oneThread = await context.engine.build({ full: true });
    await context.close();
    expect(oneThread.rankingThreads).toBe(1);
    expect(derived("two.db")).toEqual(twoThreads);

    const full = JSON.parse((await tagpulseOn("two.db", "build", "--full", "--json")).stdout) as Report["build"];
    expect(full.rankingThreads).toBe(2);
    expect(derived("two.db")).toEqual(twoThreads);
  });

  it("refuses a bad parameter with a message naming it and exit code 2", async () => {
    await expect(tagpulse("chart", "--period", "9")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("period must be one of 7, 30, 120"),
    });
    await expect(tagpulse("ingest", "missing.ndjson")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("missing.ndjson: no such file"),
    });
  });
});
