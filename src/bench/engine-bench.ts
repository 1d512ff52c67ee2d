/**
 * Engine benchmark: simulates a large world, ingests all but its last day, builds every chart, then
 * ingests the last day and updates the charts incrementally, each phase in its own process. Prints
 * observations per second, build seconds, the last day's ingest and incremental build seconds, peak
 * RSS and database size, on SQLite and (when reachable) PostgreSQL.
 *
 *   npm run bench:engine -- [--days 150] [--videos-per-day 12000] [--db sqlite,postgres] [--day-runs 1]
 *
 * `--day-runs N` runs one more day N times, each on a copy of the built database, and prints the medians
 * with the ranges, of the ingest, the build and the two together: the machine's speed varies from run to
 * run. A fixed loop timed before and after all runs tells how fast the machine was.
 *
 * PostgreSQL is the server of BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test), in
 * databases of the benchmark's own that it creates and drops there: tagpulse_engine_bench and, with
 * --day-runs, tagpulse_engine_bench_built.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { loadConfig } from "../config/config.js";
import { createContext } from "../context.js";
import { readRecords } from "../sources/record-file.js";
import { createSimulation } from "../sources/simulator.js";

const { values } = parseArgs({
  options: {
    days: { type: "string", default: "150" },
    "videos-per-day": { type: "string", default: "12000" },
    db: { type: "string", default: "sqlite,postgres" },
    child: { type: "string" },
    dir: { type: "string", default: ".bench" },
    "day-runs": { type: "string", default: "1" },
  },
});
const days = Number(values.days);
const dayRuns = Number(values["day-runs"]);
if (!Number.isInteger(dayRuns) || dayRuns < 1) throw new Error(`--day-runs must be a whole number from 1, not ${values["day-runs"]}`);
const videosPerDay = Number(values["videos-per-day"]);
const dir = path.resolve(values.dir!);
const startDay = 20_454; // 2026-01-01
const postgresUrl = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

interface Result {
  database: string;
  observations: number;
  ingestSeconds: number;
  observationsPerSecond: number;
  fullBuildSeconds: number;
  charts: number;
  /** The last day: its ingest, then the incremental build (medians over the runs, with each one's range). */
  oneMoreDay: {
    ingestSeconds: number;
    buildSeconds: number;
    observations: number;
    runs: number;
    ingestRange: string;
    buildRange: string;
    /** Each run's ingest and build together: the median and the range. */
    totalSeconds: number;
    totalRange: string;
  };
  /** Peak RSS of each phase's process, in MB. */
  peakRssMb: { ingest: number; build: number; day: number };
  databaseMb: number;
}

type Phase = "ingest" | "build" | "day";

interface PhaseResult {
  seconds: number;
  /** For the last day: the seconds of its ingest, the rest being the build's. */
  ingestSeconds?: number;
  observations: number;
  charts: number;
  fromDay: number | null;
  peakRssMb: number;
}

interface World {
  history: string;
  lastDay: string;
  catalog: string;
}

async function prepareWorld(): Promise<World> {
  fs.mkdirSync(dir, { recursive: true });
  const stem = path.join(dir, `world-${days}d-${videosPerDay}v`);
  const files = { history: `${stem}-history.ndjson`, lastDay: `${stem}-last-day.ndjson`, catalog: `${stem}-catalog.json` };
  if (fs.existsSync(files.history)) return files;
  const started = performance.now();
  const simulation = createSimulation({ seed: 42, days, videosPerDay, startDay });
  fs.writeFileSync(files.catalog, JSON.stringify(simulation.catalog));
  const history = fs.openSync(`${files.history}.tmp`, "w");
  const last = fs.openSync(files.lastDay, "w");
  const lastDayStart = (startDay + days - 1) * 86_400;
  let bufferHistory: string[] = [];
  let bufferLast: string[] = [];
  let count = 0;
  for (const record of simulation.observations()) {
    count++;
    // The last day's observations arrive separately, as a daily feed would.
    if (record.observed_at >= lastDayStart) bufferLast.push(JSON.stringify(record));
    else bufferHistory.push(JSON.stringify(record));
    if (bufferHistory.length >= 10_000) {
      fs.writeSync(history, `${bufferHistory.join("\n")}\n`);
      bufferHistory = [];
    }
    if (bufferLast.length >= 10_000) {
      fs.writeSync(last, `${bufferLast.join("\n")}\n`);
      bufferLast = [];
    }
  }
  fs.writeSync(history, bufferHistory.length ? `${bufferHistory.join("\n")}\n` : "");
  fs.writeSync(last, bufferLast.length ? `${bufferLast.join("\n")}\n` : "");
  fs.closeSync(history);
  fs.closeSync(last);
  fs.renameSync(`${files.history}.tmp`, files.history);
  console.log(`simulated ${count.toLocaleString("en-US")} observations in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return files;
}

/** The benchmark's PostgreSQL database, on BENCH_POSTGRES_URL's server, and the copy of it as built. */
const POSTGRES_DATABASE = "tagpulse_engine_bench";
const POSTGRES_BUILT = `${POSTGRES_DATABASE}_built`;

function databaseOf(kind: string): { url: string } {
  if (kind === "sqlite") return { url: path.join(dir, "bench.db") };
  const url = new URL(postgresUrl);
  url.pathname = `/${POSTGRES_DATABASE}`;
  return { url: url.toString() };
}

/**
 * Drops PostgreSQL database `name` if it exists, then creates it anew, empty or as a copy of another,
 * unless told to leave it dropped; from BENCH_POSTGRES_URL's database, outside the benchmark's own.
 */
async function replacePostgresDatabase(name: string, by: "empty" | "nothing" | { copyOf: string }): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name}`);
    if (by === "empty") await client.query(`create database ${name}`);
    else if (by !== "nothing") {
      // Since PostgreSQL 15 a database is copied through the write-ahead log unless told to copy its files.
      const version = await client.query<{ v: string }>("select current_setting('server_version_num') as v");
      const fileCopy = Number(version.rows[0]!.v) >= 150_000 ? " strategy file_copy" : "";
      await client.query(`create database ${name} template ${by.copyOf}${fileCopy}`);
    }
  } finally {
    await client.end();
  }
}

/** The built database kept aside: put back before each further run of one more day, then dropped. */
function builtCopy(kind: string): { keep(): Promise<void>; restore(): Promise<void>; drop(): Promise<void> } {
  if (kind === "postgres") {
    return {
      keep: () => replacePostgresDatabase(POSTGRES_BUILT, { copyOf: POSTGRES_DATABASE }),
      restore: () => replacePostgresDatabase(POSTGRES_DATABASE, { copyOf: POSTGRES_BUILT }),
      drop: () => replacePostgresDatabase(POSTGRES_BUILT, "nothing"),
    };
  }
  // The file and its write-ahead log.
  const file = databaseOf(kind).url;
  const built = ["", "-wal"].map((suffix): [string, string] => [file + suffix, `${file}.built${suffix}`]);
  return {
    keep: async () => copyFiles(built),
    restore: async () => {
      fs.rmSync(`${file}-shm`, { force: true });
      copyFiles(built.map(([live, copy]) => [copy, live]));
    },
    drop: async () => {
      for (const [, copy] of built) fs.rmSync(copy, { force: true });
    },
  };
}

/**
 * One phase in its own process, as an operator runs it: `tagpulse ingest --no-build` of the history,
 * `tagpulse build --full`, then `tagpulse ingest` of the last day, which brings the charts up to date.
 */
async function runPhase(kind: string, phase: Phase, world: World): Promise<PhaseResult> {
  const { url } = databaseOf(kind);
  if (phase === "ingest") {
    if (kind === "postgres") {
      await replacePostgresDatabase(POSTGRES_DATABASE, "empty");
    } else {
      for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(url + suffix, { force: true });
    }
  }
  const context = await createContext(loadConfig({}, { databaseUrl: url }));
  const started = performance.now();
  let result: Omit<PhaseResult, "seconds" | "peakRssMb">;
  if (phase === "ingest") {
    await context.ingest.ingestCatalog(readRecords(world.catalog));
    const report = await context.ingest.ingestObservations(readRecords(world.history));
    result = { observations: report.read, charts: 0, fromDay: null };
  } else if (phase === "build") {
    const build = await context.engine.build({ full: true });
    result = { observations: build.observations, charts: build.charts, fromDay: build.fromDay };
  } else {
    const daily = await context.ingest.ingestObservations(readRecords(world.lastDay));
    const ingestSeconds = (performance.now() - started) / 1000;
    const build = await context.engine.build();
    result = { observations: daily.read, charts: build.charts, fromDay: build.fromDay, ingestSeconds };
  }
  const seconds = (performance.now() - started) / 1000;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;

  await context.close();
  return { ...result, seconds, peakRssMb };
}

/** The database's size on disk, in MB: the SQLite file and its WAL, or the PostgreSQL database's tables. */
async function databaseSize(kind: string): Promise<number> {
  const { url } = databaseOf(kind);
  if (kind === "sqlite")
    return ["", "-wal"].reduce((sum, suffix) => sum + (fs.existsSync(url + suffix) ? fs.statSync(url + suffix).size : 0), 0) / 2 ** 20;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const size = await client.query(
    `select sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)))::bigint as bytes from pg_tables where schemaname = 'public'`,
  );
  await client.end();
  return Number(size.rows[0].bytes) / 2 ** 20;
}

function spawnPhase(kind: string, phase: Phase, world: World): PhaseResult {
  flushToDisk();
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), ...process.argv.slice(2), "--child", JSON.stringify({ kind, phase, ...world })],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 },
  );
  const line = child.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`${kind} ${phase} failed:\n${child.stdout}`);
  return JSON.parse(line.slice(7)) as PhaseResult;
}

async function runDatabase(kind: string, world: World): Promise<Result> {
  const ingest = spawnPhase(kind, "ingest", world);
  const build = spawnPhase(kind, "build", world);
  // Each run of one more day starts from a copy of the built database.
  const copy = builtCopy(kind);
  if (dayRuns > 1) await copy.keep();
  const dayResults: PhaseResult[] = [];
  for (let run = 0; run < dayRuns; run++) {
    if (run > 0) await copy.restore();
    dayResults.push(spawnPhase(kind, "day", world));
  }
  if (dayRuns > 1) await copy.drop();
  const day = dayResults[0]!;
  const ingestTimes = dayResults.map((d) => d.ingestSeconds!);
  const buildTimes = dayResults.map((d) => d.seconds - d.ingestSeconds!);
  const totalTimes = dayResults.map((d) => d.seconds);
  const lastDay = startDay + days - 1;
  if (day.fromDay !== null && day.fromDay < lastDay) {
    console.log(`  the last day's feed made charts stale from ${lastDay - day.fromDay} days before it (late or back-dated data)`);
  }
  return {
    database: kind === "sqlite" ? "SQLite" : "PostgreSQL",
    observations: ingest.observations,
    ingestSeconds: ingest.seconds,
    observationsPerSecond: ingest.observations / ingest.seconds,
    fullBuildSeconds: build.seconds,
    charts: build.charts,
    oneMoreDay: {
      ingestSeconds: median(ingestTimes),
      buildSeconds: median(buildTimes),
      observations: day.observations,
      runs: dayRuns,
      ingestRange: range(ingestTimes),
      buildRange: range(buildTimes),
      totalSeconds: median(totalTimes),
      totalRange: range(totalTimes),
    },
    peakRssMb: { ingest: ingest.peakRssMb, build: build.peakRssMb, day: Math.max(...dayResults.map((d) => d.peakRssMb)) },
    databaseMb: await databaseSize(kind),
  };
}

/**
 * Has the OS write out every file it holds changes of, so that a phase starts as it would hours after
 * the one before. Otherwise what the previous phase wrote, or a copy of the database made for this one,
 * is written out during the measured phase, whenever that phase first syncs: one more day's ingest
 * waited up to 0.8 s, at its first write to the write-ahead log, for a copy made just before it.
 */
function flushToDisk(): void {
  try {
    execFileSync("sync", { stdio: "ignore" });
  } catch {
    console.log("  (no `sync` command here: the phase may also pay for writing out the one before)");
  }
}

/** Each [source, target]: the target replaced by a copy of the source, or removed when there is no source. */
function copyFiles(pairs: readonly [string, string][]): void {
  for (const [source, target] of pairs) {
    fs.rmSync(target, { force: true });
    if (fs.existsSync(source)) fs.copyFileSync(source, target);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function range(values: readonly number[]): string {
  return `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;
}

/**
 * Seconds this machine takes for a fixed loop, in a process of its own: a yardstick for comparing runs
 * made on different days, as the same code runs up to half again as fast on a fast day.
 */
function calibrationSeconds(): number {
  const started = performance.now();
  execFileSync(process.execPath, ["-e", CALIBRATION_LOOP], { stdio: "ignore" });
  return (performance.now() - started) / 1000;
}

const CALIBRATION_LOOP = "let s = 0; for (let i = 0; i < 2e9; i++) s += i % 7;";

function postgresReachable(): boolean {
  try {
    execFileSync("pg_isready", ["-d", postgresUrl, "-q"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

if (values.child) {
  const { kind, phase, ...world } = JSON.parse(values.child) as World & { kind: string; phase: Phase };
  const result = await runPhase(kind, phase, world);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} else {
  const world = await prepareWorld();
  const loopBefore = calibrationSeconds();
  const results: Result[] = [];
  for (const kind of values.db!.split(",").filter((k) => k !== "")) {
    if (kind === "postgres" && !postgresReachable()) {
      console.log(`PostgreSQL skipped: nothing answers at ${postgresUrl.replace(/\/\/.*@/, "//***@")}`);
      continue;
    }
    console.log(`${kind}: ingesting, building, then one more day, each in its own process ...`);
    results.push(await runDatabase(kind, world));
  }
  const loopAfter = calibrationSeconds();
  const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  console.log(
    `\nworld: ${days} days, ${videosPerDay.toLocaleString("en-US")} videos/day, machine: ${process.arch}, ${(await import("node:os")).cpus().length} cores, Node ${process.version}`,
  );
  console.log(`machine speed: \`node -e "${CALIBRATION_LOOP}"\` took ${fmt(loopBefore)} s before the runs and ${fmt(loopAfter)} s after`);
  console.log(
    "| database | observations | ingest obs/s | full build s | charts | one more day: ingest s + incremental build s | peak RSS MB (ingest / build / day) | database MB |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const rss = r.peakRssMb;
    console.log(
      `| ${r.database} | ${r.observations.toLocaleString("en-US")} | ${Math.round(r.observationsPerSecond).toLocaleString("en-US")} | ${fmt(r.fullBuildSeconds)} | ${r.charts.toLocaleString("en-US")} | ${fmt(r.oneMoreDay.ingestSeconds, 2)} + ${fmt(r.oneMoreDay.buildSeconds, 2)} (${r.oneMoreDay.observations.toLocaleString("en-US")} obs${r.oneMoreDay.runs > 1 ? `; median of ${r.oneMoreDay.runs} runs: ${r.oneMoreDay.ingestRange} + ${r.oneMoreDay.buildRange}, together ${fmt(r.oneMoreDay.totalSeconds, 2)} (${r.oneMoreDay.totalRange})` : ""}) | ${Math.round(Math.max(rss.ingest, rss.build, rss.day))} (${Math.round(rss.ingest)} / ${Math.round(rss.build)} / ${Math.round(rss.day)}) | ${Math.round(r.databaseMb)} |`,
    );
  }
}
