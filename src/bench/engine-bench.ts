/**
 * Engine benchmark: simulates a large world, ingests all but its last day, builds every chart, then
 * ingests the last day and updates the charts incrementally. Prints observations per second, build
 * seconds, peak RSS and database size, on SQLite and (when reachable) PostgreSQL.
 *
 *   npm run bench:engine -- [--days 150] [--videos-per-day 12000] [--db sqlite,postgres]
 *
 * PostgreSQL is read from BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { loadConfig } from "../config/config.js";
import { createContext } from "../context.js";
import { dayOf } from "../lib/days.js";
import { readRecords } from "../sources/record-file.js";
import { createSimulation } from "../sources/simulator.js";

const { values } = parseArgs({
  options: {
    days: { type: "string", default: "150" },
    "videos-per-day": { type: "string", default: "12000" },
    db: { type: "string", default: "sqlite,postgres" },
    child: { type: "string" },
    dir: { type: "string", default: ".bench" },
  },
});
const days = Number(values.days);
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
  oneMoreDaySeconds: number;
  oneMoreDayObservations: number;
  peakRssMb: number;
  databaseMb: number;
}

async function prepareWorld(): Promise<{ history: string; lastDay: string; catalog: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const stem = path.join(dir, `world-${days}d-${videosPerDay}v`);
  const files = { history: `${stem}-history.ndjson`, lastDay: `${stem}-last-day.ndjson`, catalog: `${stem}-catalog.json` };
  if (fs.existsSync(files.lastDay)) return files;
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

async function runChild(kind: string, files: { history: string; lastDay: string; catalog: string }): Promise<Result> {
  let url: string;
  let schema: string | undefined;
  if (kind === "sqlite") {
    url = path.join(dir, "bench.db");
    for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(url + suffix, { force: true });
  } else {
    url = postgresUrl;
    schema = "tagpulse_bench";
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.query(`create schema ${schema}`);
    await client.end();
  }
  const context = await createContext(loadConfig({}, { databaseUrl: url }), schema ? { databaseSchema: schema } : {});
  await context.ingest.ingestCatalog(readRecords(files.catalog));

  let started = performance.now();
  const report = await context.ingest.ingestObservations(readRecords(files.history), { batchSize: 20_000 });
  const ingestSeconds = (performance.now() - started) / 1000;

  started = performance.now();
  const build = await context.engine.build({ full: true });
  const fullBuildSeconds = (performance.now() - started) / 1000;

  started = performance.now();
  const daily = await context.ingest.ingestObservations(readRecords(files.lastDay), { batchSize: 20_000 });
  const incremental = await context.engine.build();
  const oneMoreDaySeconds = (performance.now() - started) / 1000;
  if (incremental.fromDay !== null && incremental.fromDay < dayOf((startDay + days - 1) * 86_400)) {
    console.log(`  note: the last day's feed made charts stale from day ${incremental.fromDay} (late or back-dated data)`);
  }

  let databaseMb: number;
  if (kind === "sqlite") {
    databaseMb =
      ["", "-wal"].reduce((sum, suffix) => sum + (fs.existsSync(url + suffix) ? fs.statSync(url + suffix).size : 0), 0) / 2 ** 20;
  } else {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const size = await client.query(
      `select sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)))::bigint as bytes from pg_tables where schemaname = $1`,
      [schema],
    );
    await client.end();
    databaseMb = Number(size.rows[0].bytes) / 2 ** 20;
  }
  await context.close();
  return {
    database: kind === "sqlite" ? "SQLite" : "PostgreSQL",
    observations: report.read,
    ingestSeconds,
    observationsPerSecond: report.read / ingestSeconds,
    fullBuildSeconds,
    charts: build.charts,
    oneMoreDaySeconds,
    oneMoreDayObservations: daily.read,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    databaseMb,
  };
}

function postgresReachable(): boolean {
  try {
    execFileSync("pg_isready", ["-d", postgresUrl, "-q"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

if (values.child) {
  const files = JSON.parse(values.child) as { kind: string; history: string; lastDay: string; catalog: string };
  const result = await runChild(files.kind, files);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} else {
  const files = await prepareWorld();
  const results: Result[] = [];
  for (const kind of values.db!.split(",").filter((k) => k !== "")) {
    if (kind === "postgres" && !postgresReachable()) {
      console.log(`PostgreSQL skipped: nothing answers at ${postgresUrl.replace(/\/\/.*@/, "//***@")}`);
      continue;
    }
    console.log(`${kind}: ingesting, building, then one more day ...`);
    // Each database runs in its own process, so that peak RSS is its own.
    const child = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), ...process.argv.slice(2), "--child", JSON.stringify({ kind, ...files })],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        maxBuffer: 1 << 26,
      },
    );
    const line = child.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`${kind} benchmark failed:\n${child.stdout}`);
    results.push(JSON.parse(line.slice(7)) as Result);
  }
  const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  console.log(
    `\nworld: ${days} days, ${videosPerDay.toLocaleString("en-US")} videos/day, machine: ${process.arch}, ${(await import("node:os")).cpus().length} cores, Node ${process.version}`,
  );
  console.log("| database | observations | ingest obs/s | full build s | charts | one more day s | peak RSS MB | database MB |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    console.log(
      `| ${r.database} | ${r.observations.toLocaleString("en-US")} | ${Math.round(r.observationsPerSecond).toLocaleString("en-US")} | ${fmt(r.fullBuildSeconds)} | ${r.charts.toLocaleString("en-US")} | ${fmt(r.oneMoreDaySeconds, 2)} (${r.oneMoreDayObservations.toLocaleString("en-US")} obs) | ${Math.round(r.peakRssMb)} | ${Math.round(r.databaseMb)} |`,
    );
  }
}
