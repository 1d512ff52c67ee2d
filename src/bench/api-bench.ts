/**
 * API benchmark: starts the server as its own process (on the demo world, seeded on first use) and a
 * bare Fastify route returning a fixed body of the same size in another, then drives each over loopback
 * with autocannon (50 connections, no pipelining). Prints requests/s, p50 and p99 latency of each and
 * the ratio real / bare.
 *
 *   npm run bench:api -- [--duration 10] [--connections 50] [--dir .bench]
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import Fastify from "fastify";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    dir: { type: "string", default: ".bench" },
    bare: { type: "string" },
  },
});

const AUTH = "Bearer tp_bench_key_0123456789";
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
  const cli = fileURLToPath(new URL("../cli/main.js", import.meta.url));
  const port = 18_000 + Math.floor(Math.random() * 1000);
  const real = spawn(process.execPath, [cli, "start", "--port", String(port)], {
    env: { ...process.env, DATABASE_URL: path.join(dir, "api-demo.db"), LOG_LEVEL: process.env.LOG_LEVEL ?? "info" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const children: ChildProcess[] = [real];
  try {
    const base = `http://127.0.0.1:${port}`;
    console.log("starting the server on the demo world (seeded and built on first use) ...");
    const started = performance.now();
    await waitFor(`${base}/readyz`, real, 300);
    console.log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // Measured once the server has rendered the latest charts, as it does after each start.
    while (((await (await fetch(`${base}/readyz`)).json()) as { charts: { rendering: boolean } }).charts.rendering) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    console.log(`latest charts rendered ${((performance.now() - started) / 1000).toFixed(1)} s after start`);
    const paths = spread();
    // Every chart of the spread rendered once, as the server's own warm-up would.
    const warm = performance.now();
    for (const p of paths) await fetch(base + p, { headers: { authorization: AUTH } });
    console.log(`${paths.length} paths requested once in ${((performance.now() - warm) / 1000).toFixed(1)} s (first renders)`);

    const sample = await (await fetch(`${base}${paths[0]}`, { headers: { authorization: AUTH } })).text();
    const bodyFile = path.join(dir, "bare-body.json");
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
    const realFigures = await drive(base, paths, { authorization: AUTH });
    const row = (name: string, f: Figures) =>
      `| ${name} | ${Math.round(f.requestsPerSecond).toLocaleString("en-US")} | ${f.p50} | ${f.p99} | ${f.errors + f.non2xx} |`;
    console.log(`\nbody: ${Buffer.byteLength(sample).toLocaleString("en-US")} bytes; server log level: ${process.env.LOG_LEVEL ?? "info"}`);
    console.log("| route | requests/s | p50 ms | p99 ms | errors |");
    console.log("| --- | ---: | ---: | ---: | ---: |");
    console.log(row("bare Fastify route, fixed body", bareFigures));
    console.log(row(`GET /v1/tiktok/trending/hashtags, ${paths.length} paths`, realFigures));
    console.log(`\nratio real / bare: ${(realFigures.requestsPerSecond / bareFigures.requestsPerSecond).toFixed(2)}`);
  } finally {
    for (const child of children) child.kill("SIGTERM");
  }
}
