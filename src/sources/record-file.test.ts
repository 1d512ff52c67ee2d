import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config/config.js";
import { createContext } from "../context.js";
import { createStringTable, type InputRecord, type ParsedBatch } from "../domain/ingest/observation-batch.js";
import type { IngestReport } from "../domain/ingest-service.js";
import type { Observation } from "../domain/observation.js";
import { decodeBatch } from "../../test/parsed-batch.js";
import { readObservationBatches, readRecords, type RecordFile } from "./record-file.js";
import { createSimulation } from "./simulator.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-record-file-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function observation(i: number): Record<string, unknown> {
  return {
    id: String(7_300_000_000_000_000_000n + BigInt(i % 997)),
    create_time: 1_769_000_000 + (i % 50),
    region_code: ["us", "GB", "uk"][i % 3],
    hashtag_names: [["Clean", "#carwash"], [], ["fyp", "ünïcode", "fyp"]][i % 3],
    username: `user${i % 40}`,
    view_count: i * 7,
    observed_at: 1_769_100_000 + i,
    ...(i % 4 === 0 ? {} : { nick_name: `Nick ${i % 40} 🌸`, avatar_url: `https://a.example/${i % 40}.png` }),
  };
}

async function collect(source: RecordFile, batchSize: number) {
  const table = createStringTable();
  const batches: { observations: Observation[]; read: number; rejected: ParsedBatch["rejected"] }[] = [];
  for await (const batch of source.observationBatches({ batchSize })) {
    table.apply(batch);
    batches.push({ observations: decodeBatch(batch, table.strings), read: batch.read, rejected: batch.rejected });
  }
  return batches;
}

/**
 * The worker module run from its TypeScript source, as the compiled one runs from `dist`: a loader
 * hook inside the thread transpiles each module on the way in.
 */
function typescriptWorker(): URL {
  const typescript = pathToFileURL(createRequire(import.meta.url).resolve("typescript")).href;
  const hooks = `
    import ts from ${JSON.stringify(typescript)};
    import { readFile } from "node:fs/promises";
    import { existsSync } from "node:fs";
    import { fileURLToPath } from "node:url";
    export async function resolve(specifier, context, next) {
      if (specifier.startsWith(".") && specifier.endsWith(".js") && context.parentURL?.endsWith(".ts")) {
        const url = new URL(specifier.slice(0, -3) + ".ts", context.parentURL);
        if (existsSync(fileURLToPath(url))) return { url: url.href, format: "module", shortCircuit: true };
      }
      return next(specifier, context);
    }
    export async function load(url, context, next) {
      if (!url.endsWith(".ts")) return next(url, context);
      const source = await readFile(fileURLToPath(url), "utf8");
      const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true };
      return { format: "module", source: ts.transpileModule(source, { compilerOptions: options }).outputText, shortCircuit: true };
    }`;
  const worker = new URL("./record-file-worker.ts", import.meta.url).href;
  const boot = `
    import { register } from "node:module";
    register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});
    await import(${JSON.stringify(worker)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

describe("readRecords", () => {
  it("reads NDJSON records with their line numbers, skipping blank lines", async () => {
    const file = write("lines.ndjson", '{"a":1}\n\n  \n{"b":2}\r\nnot json\n[1]');
    const records = [];
    for await (const record of readRecords(file)) records.push(record);
    expect(records).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 4, value: { b: 2 } },
      { line: 5, error: "not valid JSON" },
      { line: 6, value: [1] },
    ]);
  });

  it("reads a JSON array, numbering its items", async () => {
    const file = write("array.json", '\n  [{"a":1}, {"b":2}]');
    const records = [];
    for await (const record of readRecords(file)) records.push(record);
    expect(records).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 2, value: { b: 2 } },
    ]);
  });

  it("reports the bytes read", async () => {
    const text = `${JSON.stringify(observation(1))}\n`;
    const file = write("bytes.ndjson", text);
    let total = 0;
    for await (const _ of readRecords(file, { onBytes: (bytes) => (total = bytes) })) void _;
    expect(total).toBe(Buffer.byteLength(text));
  });
});

describe("readRecords(...).observationBatches", () => {
  const lines = Array.from({ length: 2500 }, (_, i) =>
    i % 97 === 5 ? '{"id":"x"}' : i % 211 === 7 ? "{oops" : JSON.stringify(observation(i)),
  );
  const file = write("observations.ndjson", `${lines.join("\n")}\n`);

  it("validates records into batches of the requested number of observations", async () => {
    const batches = await collect(readRecords(file, { worker: false }), 1000);
    expect(batches.map((b) => b.observations.length)).toEqual([1000, 1000, 2500 - 1000 - 1000 - 26 - 12]);
    expect(batches.reduce((n, b) => n + b.read, 0)).toBe(2500);
    const rejected = batches.flatMap((b) => b.rejected);
    expect(rejected).toHaveLength(26 + 12);
    expect(rejected[0]).toEqual({ line: 6, reason: "missing field create_time" });
    expect(rejected[1]).toEqual({ line: 8, reason: "not valid JSON" });
    expect(batches[0]!.observations[0]).toEqual({
      videoId: "7300000000000000000",
      createTime: 1_769_000_000,
      region: "US",
      hashtags: ["carwash", "clean"],
      username: "user0",
      viewCount: 0,
      observedAt: 1_769_100_000,
      nickName: null,
      avatarUrl: null,
    });
    expect(batches[0]!.observations[2]!.region).toBe("GB");
    expect(batches[0]!.observations[2]!.hashtags).toEqual(["fyp", "ünïcode"]);
  });

  it("gives the same batches from a worker thread as from the calling thread", async () => {
    const inThread = await collect(readRecords(file, { worker: false }), 300);
    const onWorker = await collect(readRecords(file, { worker: typescriptWorker() }), 300);
    expect(onWorker).toEqual(inThread);
    expect(onWorker.length).toBeGreaterThan(3);
  });

  it("stops the worker thread when the consumer stops early", async () => {
    const source = readRecords(file, { worker: typescriptWorker() });
    let seen = 0;
    for await (const batch of source.observationBatches({ batchSize: 100 })) {
      seen += batch.observations.count;
      if (seen >= 200) break;
    }
    expect(seen).toBe(200);
  });

  it("reports a file that cannot be read", async () => {
    const source = readRecords(path.join(dir, "missing.ndjson"), { worker: typescriptWorker() });
    await expect(collect(source, 10)).rejects.toThrow(/ENOENT/);
  });

  it.each([
    ["NDJSON", "large.ndjson", (lines: string[]) => `${lines.join("\n")}\n`],
    ["a JSON array", "large.json", (lines: string[]) => `[${lines.join(",\n")}]`],
  ])(
    "after a small first batch, fills batches up unless the writer waits, then cuts them at the first batch's size or more (%s)",
    async (_kind, name, text) => {
      // 40,000 observations in several read chunks of 1 MiB.
      const large = write(name, text(Array.from({ length: 40_000 }, (_, i) => JSON.stringify(observation(i)))));
      const read = async (wanted: () => boolean) => {
        const table = createStringTable();
        const batches: Observation[][] = [];
        for await (const batch of readObservationBatches(large, 1_000_000, undefined, wanted)) {
          table.apply(batch);
          batches.push(decodeBatch(batch, table.strings));
        }
        return batches;
      };
      const unhurried = await read(() => false);
      expect(unhurried.map((b) => b.length)).toEqual([16_384, 40_000 - 16_384]);
      const hurried = await read(() => true);
      expect(hurried.length).toBeGreaterThan(2);
      expect(hurried.slice(0, -1).every((b) => b.length >= 16_384 && b.length < 40_000 - 16_384)).toBe(true);
      expect(hurried.flat()).toEqual(unhurried.flat());
    },
  );
});

describe("ingesting a file", () => {
  const simulation = createSimulation({ seed: 7, days: 5, videosPerDay: 400, startDay: 20_480 });
  const lines = [...simulation.observations()].map((r, i) =>
    i % 500 === 3 ? JSON.stringify({ ...r, region_code: "USA" }) : i % 700 === 5 ? "{not json" : JSON.stringify(r),
  );
  const file = write("world.ndjson", `${lines.join("\n")}\n`);

  async function storedRows(ingest: (context: Awaited<ReturnType<typeof createContext>>) => Promise<IngestReport>) {
    const context = await createContext(loadConfig({}, { databaseUrl: ":memory:" }));
    try {
      const report = await ingest(context);
      const db = context.database.sqlite!;
      const tags = "(select name from tags where tags.id = video_tags.tag)";
      return {
        observations: db.prepare("select * from observations order by video_id, observed_at").all(),
        // Tag ids depend on the order tags were first met: compare names.
        videos: db
          .prepare(
            "select video_id, create_time, region, username, latest_at, latest_views, first_at, last_at from videos order by video_id",
          )
          .all(),
        videoTags: db.prepare(`select ${tags} as name, video_id from video_tags order by 1, 2`).all(),
        creators: db.prepare("select * from creators order by username").all(),
        // The generation counts transactions, which differ: not the marks.
        staleMarks: db.prepare("select key, value from engine_state where key != 'generation' order by key").all(),
        report,
      };
    } finally {
      await context.close();
    }
  }

  it("stores the same rows through the reading thread as record by record", async () => {
    async function* asInput(): AsyncGenerator<InputRecord> {
      for (const [i, text] of lines.entries()) {
        try {
          yield { line: i + 1, value: JSON.parse(text) as unknown };
        } catch {
          yield { line: i + 1, error: "not valid JSON" };
        }
      }
    }
    const expected = await storedRows((context) => context.ingest.ingestObservations(asInput(), { batchSize: 999 }));
    const actual = await storedRows((context) =>
      context.ingest.ingestObservations(readRecords(file, { worker: typescriptWorker() }), { batchSize: 1234 }),
    );
    expect(lines.length).toBeGreaterThan(3000);
    expect(expected.report.rejected).toBeGreaterThan(5);
    expect(actual).toEqual(expected);
  });
});
