/**
 * API benchmark: starts the server as its own process (on the demo world, seeded on first use) and a
 * bare Fastify route returning a fixed body of the same size in another, then drives each over loopback
 * with autocannon (50 connections, no pipelining). The real endpoint is called with an API key, so
 * every call is authenticated, rate-limited and charged. Prints requests/s, p50 and p99 latency of
 * each, the ratio real / bare, and checks that the credits charged are exactly 2 per 200.
 * On SQLite and on PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test,
 * in a database of its own).
 *
 *   npm run bench:api -- [--duration 10] [--connections 50] [--db sqlite,postgres] [--dir .bench]
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import Fastify from "fastify";
import pg from "pg";
import { loadConfig } from "../config/config.js";
import { createContext } from "../context.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    dir: { type: "string", default: ".bench" },
    db: { type: "string", default: "sqlite,postgres" },
    bare: { type: "string" },
  },
});

const postgresUrl = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** Enough credits and rate for any run: the limits are exercised, never reached. */
const BENCH_CREDITS = 1_000_000_000_000;
const BENCH_RATE_LIMIT = 100_000_000;
const REGIONS = ["all_regions", "US", "GB", "BR", "ID", "JP", "DE", "FR"];
const PERIODS = [7, 30, 120];
const INDUSTRIES = ["nothing", "10000000000", "11000000000", "22000000000"];
const PAGES = [1, 2, 3, 4, 5];

/** The spread of requests the real endpoint is driven with: every combination, in a fixed order. */
function spread(): string[] {
  return REGIONS.flatMap((region) =>
    PERIODS.flatMap((period) =>
      INDUSTRIES.flatMap((industry) =>
        PAGES.map((page) => `/v1/tiktok/trending/hashtags?region=${region}&period=${period}&industry_id=${industry}&page=${page}&limit=20`),
      ),
    ),
  );
}

async function waitFor(url: string, child: ChildProcess, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} was not ready within ${seconds} s`);
}

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  ok: number;
}

async function drive(base: string, paths: string[], headers: Record<string, string>): Promise<Figures> {
  let next = 0;
  const result = await autocannon({
    url: base,
    connections: Number(values.connections),
    pipelining: 1,
    duration: Number(values.duration),
    headers,
    requests: [{ setupRequest: (request) => ({ ...request, path: paths[next++ % paths.length]! }) }],
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    ok: result["2xx"],
  };
}

if (values.bare !== undefined) {
  // The bare route: Fastify's defaults, a fixed JSON body.
  const body = fs.readFileSync(values.bare, "utf8");
  const app = Fastify();
  app.get("/bare", async (_request, reply) => {
    reply.type("application/json; charset=utf-8");
    return body;
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  process.stdout.write(`PORT ${typeof address === "object" && address ? address.port : 0}\n`);
} else {
  const dir = path.resolve(values.dir!);
  fs.mkdirSync(dir, { recursive: true });
  const results: string[] = [];
  for (const kind of values.db!.split(",")) {
    if (kind !== "sqlite" && kind !== "postgres") throw new Error(`--db takes sqlite and/or postgres, got ${kind}`);
    const url = kind === "sqlite" ? path.join(dir, "api-demo.db") : await postgresDatabase().catch((error: unknown) => error as Error);
    if (url instanceof Error) {
      console.log(`PostgreSQL skipped: ${postgresUrl} is not reachable (${url.message}); set BENCH_POSTGRES_URL`);
      continue;
    }
    results.push(...(await benchDatabase(kind, url)));
  }
  console.log(`\n${results.join("\n")}`);
}

/** A PostgreSQL database of the benchmark's own, kept between runs so that its demo world is seeded once. */
async function postgresDatabase(): Promise<string> {
  const name = "tagpulse_api_bench";
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  const exists = await client.query("select 1 from pg_database where datname = $1", [name]);
  if (exists.rowCount === 0) await client.query(`create database ${name}`);
  await client.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** An account and key of the benchmark's own: as many credits and calls as any run can spend. */
async function benchKey(databaseUrl: string): Promise<{ secret: string; accountId: string; balance: () => Promise<number> }> {
  const context = await createContext(loadConfig({}, { databaseUrl }));
  const account = await context.accounts.createAccount({ name: `bench-${Date.now()}`, credits: BENCH_CREDITS });
  const { secret } = await context.accounts.createKey({ account: account.id, name: "bench", rateLimit: BENCH_RATE_LIMIT });
  await context.close();
  return {
    secret,
    accountId: account.id,
    async balance() {
      const again = await createContext(loadConfig({}, { databaseUrl }));
      const { balance } = await again.accounts.getAccount(account.id);
      await again.close();
      return balance;
    },
  };
}

async function benchDatabase(kind: "sqlite" | "postgres", databaseUrl: string): Promise<string[]> {
  const name = kind === "sqlite" ? "SQLite" : "PostgreSQL";
  const cli = fileURLToPath(new URL("../cli/main.js", import.meta.url));
  const port = 18_000 + Math.floor(Math.random() * 1000);
  const real = spawn(process.execPath, [cli, "start", "--port", String(port)], {
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? "info" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const children: ChildProcess[] = [real];
  try {
    const base = `http://127.0.0.1:${port}`;
    console.log(`${name}: starting the server on the demo world (seeded and built on first use) ...`);
    const started = performance.now();
    await waitFor(`${base}/readyz`, real, 600);
    console.log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // Measured once the server has rendered the latest charts, as it does after each start.
    while (((await (await fetch(`${base}/readyz`)).json()) as { charts: { rendering: boolean } }).charts.rendering) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    console.log(`latest charts rendered ${((performance.now() - started) / 1000).toFixed(1)} s after start`);
    const key = await benchKey(databaseUrl);
    const auth = `Bearer ${key.secret}`;
    const paths = spread();
    // Every chart of the spread rendered once, as the server's own warm-up would.
    const warm = performance.now();
    for (const p of paths) await fetch(base + p, { headers: { authorization: auth } });
    console.log(`${paths.length} paths requested once in ${((performance.now() - warm) / 1000).toFixed(1)} s (first renders)`);

    const sample = await (await fetch(`${base}${paths[0]}`, { headers: { authorization: auth } })).text();
    const bodyFile = path.join(path.resolve(values.dir!), "bare-body.json");
    fs.writeFileSync(bodyFile, sample);
    const bare = spawn(process.execPath, [fileURLToPath(import.meta.url), "--bare", bodyFile], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(bare);
    const barePort = await new Promise<number>((resolve, reject) => {
      bare.stdout!.on("data", (chunk: Buffer) => {
        const match = /PORT (\d+)/.exec(chunk.toString());
        if (match) resolve(Number(match[1]));
      });
      bare.once("exit", (code) => reject(new Error(`the bare server exited with code ${code}`)));
    });

    console.log(`driving each for ${values.duration} s, ${values.connections} connections, no pipelining ...`);
    const bareFigures = await drive(`http://127.0.0.1:${barePort}`, ["/bare"], {});
    const before = await key.balance();
    const realFigures = await drive(base, paths, { authorization: auth });
    // Calls still in flight when the run stops are answered (and charged) after autocannon counts.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const charged = before - (await key.balance());
    const unseen = charged / 2 - realFigures.ok;
    const row = (route: string, f: Figures) =>
      `| ${name} | ${route} | ${Math.round(f.requestsPerSecond).toLocaleString("en-US")} | ${f.p50} | ${f.p99} | ${f.errors + f.non2xx} |`;
    return [
      `${name}: body ${Buffer.byteLength(sample).toLocaleString("en-US")} bytes; server log level ${process.env.LOG_LEVEL ?? "info"}`,
      "| database | route | requests/s | p50 ms | p99 ms | errors |",
      "| --- | --- | ---: | ---: | ---: | ---: |",
      row("bare Fastify route, fixed body", bareFigures),
      row(`GET /v1/tiktok/trending/hashtags with key and billing, ${paths.length} paths`, realFigures),
      `ratio real / bare: ${(realFigures.requestsPerSecond / bareFigures.requestsPerSecond).toFixed(2)}`,
      `charged ${charged.toLocaleString("en-US")} credits for ${realFigures.ok.toLocaleString("en-US")} answers 200 received` +
        (unseen === 0 ? ": exactly 2 each" : `, and ${unseen} answered after the run stopped counting`),
      "",
    ];
  } finally {
    for (const child of children) child.kill("SIGTERM");
  }
}
