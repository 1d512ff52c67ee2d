import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseDuration } from "./config.js";

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("loadConfig: chart sources and the Creative Center connector", () => {
  it("defaults to the engine first, generation 2 logged out, a polite rate and every chart", () => {
    const config = loadConfig({});
    expect(config.chartSources).toEqual(["engine", "creative_center"]);
    expect(config.collectEveryMs).toBeUndefined();
    expect(config.creativeCenter).toMatchObject({
      generation: 2,
      baseUrl: "https://ads.tiktok.com",
      session: undefined,
      requestsPerSecond: 1,
      retries: 3,
      refusalsBeforeStop: 5,
      pauseAfterRefusalsMs: 6 * 3_600_000,
      periods: [7, 30, 120],
    });
    expect(config.creativeCenter.regions).toContain("all_regions");
    expect(config.creativeCenter.industries).toContain("nothing");
  });

  it("reads a sweep plan, a source order, a schedule and a logged-in session", () => {
    const config = loadConfig({
      CHART_SOURCES: "creative_center",
      COLLECT_EVERY: "24h",
      CC_SESSION_ID: "s",
      CC_CSRF_TOKEN: "t",
      CC_REGIONS: "US, FR",
      CC_PERIODS: "7",
      CC_INDUSTRIES: "nothing,14000000000",
    });
    expect(config.chartSources).toEqual(["creative_center"]);
    expect(config.collectEveryMs).toBe(86_400_000);
    expect(config.creativeCenter).toMatchObject({
      session: { sessionId: "s", csrfToken: "t" },
      regions: ["US", "FR"],
      periods: [7],
      industries: ["nothing", "14000000000"],
    });
  });

  it("reports every bad setting at once, naming each", () => {
    expect(
      problems({
        CHART_SOURCES: "engine,tiktok",
        COLLECT_EVERY: "daily",
        CC_GENERATION: "3",
        CC_BASE_URL: "ads.tiktok.com",
        CC_SESSION_ID: "only-half",
        CC_REQUESTS_PER_SECOND: "0",
        CC_RETRIES: "-1",
        CC_REGIONS: "US,XX",
        CC_PERIODS: "90",
      }),
    ).toEqual([
      expect.stringMatching(/^CHART_SOURCES has unknown values tiktok/),
      expect.stringMatching(/^COLLECT_EVERY must be a duration/),
      expect.stringMatching(/^CC_GENERATION must be 1 or 2/),
      expect.stringMatching(/^CC_BASE_URL must be an http/),
      expect.stringMatching(/^CC_SESSION_ID and CC_CSRF_TOKEN go together/),
      expect.stringMatching(/^CC_REQUESTS_PER_SECOND must be a number from 0.001/),
      expect.stringMatching(/^CC_RETRIES must be an integer from 0/),
      expect.stringMatching(/^CC_REGIONS has unknown values XX/),
      expect.stringMatching(/^CC_PERIODS has unknown values 90/),
    ]);
  });

  it("needs the captured header set for generation 1, as a JSON object of strings", () => {
    expect(problems({ CC_GENERATION: "1" })).toEqual([expect.stringMatching(/CC_GENERATION=1 needs CC_GEN1_HEADERS_FILE/)]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-config-"));
    try {
      const file = path.join(dir, "headers.json");
      fs.writeFileSync(file, JSON.stringify(["user-sign"]));
      expect(problems({ CC_GENERATION: "1", CC_GEN1_HEADERS_FILE: file })).toEqual([expect.stringMatching(/must hold a JSON object/)]);
      fs.writeFileSync(file, JSON.stringify({ "User-Sign": "0123456789abcdef", Cookie: "sessionid=x" }));
      expect(loadConfig({ CC_GENERATION: "1", CC_GEN1_HEADERS_FILE: file }).creativeCenter.gen1Headers).toEqual({
        "user-sign": "0123456789abcdef",
        cookie: "sessionid=x",
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("parseDuration", () => {
  it("reads ms, s, m, h and d up to 24 days (what a timer can wait), and refuses anything else", () => {
    expect([parseDuration("500ms"), parseDuration("90s"), parseDuration("30m"), parseDuration("24h"), parseDuration("1.5d")]).toEqual([
      500, 90_000, 1_800_000, 86_400_000, 129_600_000,
    ]);
    expect([parseDuration("0h"), parseDuration("1w"), parseDuration("h"), parseDuration(""), parseDuration("30d")]).toEqual([
      null,
      null,
      null,
      null,
      null,
    ]);
  });
});
