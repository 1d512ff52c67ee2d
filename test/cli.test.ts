import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const cli = path.resolve("dist/cli/main.js");
let dir: string;

async function tagpulse(...args: string[]) {
  return run(process.execPath, [cli, "--db", path.join(dir, "t.db"), ...args], { cwd: dir, maxBuffer: 1 << 26 });
}

describe("the tagpulse command", () => {
  beforeAll(() => {
    if (!fs.existsSync(cli)) throw new Error("dist/cli/main.js is missing: npm test builds it first (npm run build)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-cli-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("lists its commands", async () => {
    const { stdout } = await run(process.execPath, [cli, "--help"]);
    for (const command of ["simulate", "ingest", "build", "chart", "demo"]) expect(stdout).toContain(command);
  });

  it("simulates, ingests and prints a chart with every row in the API's shape", async () => {
    await tagpulse(
      "simulate",
      "--seed",
      "3",
      "--days",
      "10",
      "--videos-per-day",
      "300",
      "--start",
      "2026-03-01",
      "--out",
      "obs.ndjson",
      "--catalog",
      "catalog.json",
    );
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
