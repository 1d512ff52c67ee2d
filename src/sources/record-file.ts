import fs from "node:fs";
import { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { compiledWorker } from "../lib/compiled-worker.js";
import { createBatchBuilder, type InputRecord, type ObservationBatchSource, type ParsedBatch } from "../domain/ingest/observation-batch.js";
import { createLineSplitter } from "./line-splitter.js";

export type { InputRecord } from "../domain/ingest/observation-batch.js";

/** The records of a file, one by one or, for observations, already validated in batches. */
export interface RecordFile extends AsyncIterable<InputRecord>, ObservationBatchSource {}

export interface ReadRecordsOptions {
  /** Called with the number of bytes read so far. */
  readonly onBytes?: (total: number) => void;
  /**
   * The module that reads and validates observation batches on a thread of its own; `false` does it
   * on the calling thread. By default the compiled `record-file-worker.js` next to this module.
   */
  readonly worker?: URL | false;
}

/** What the reading thread sends: a batch with the bytes read so far, the end, or why it failed. */
export type WorkerMessage = { batch: ParsedBatch; bytes: number } | { done: true } | { error: string };

/** What the calling thread tells the reading thread: it took a batch, or it waits for one. */
export type WriterMessage = "taken" | "waiting";

export interface WorkerInput {
  readonly file: string;
  readonly batchSize: number;
}

/**
 * The size of the first batch: the writer waits for it, so it is kept small. Later batches are also
 * cut at this size or more whenever the writer is waiting (`wanted`), else at the batch size.
 */
const FIRST_BATCH_SIZE = 16_384;

/** Files smaller than this are read on the calling thread: starting a thread would cost more. */
const WORKER_MIN_BYTES = 1 << 20;

/**
 * Reads the records of an NDJSON file or of a file holding one JSON array, telling them apart by the
 * first non-blank character. `-` reads standard input. For an array, `line` is the item's 1-based index.
 */
export function readRecords(file: string, options: ReadRecordsOptions = {}): RecordFile {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const records of readRecordChunks(file, options.onBytes)) yield* records;
    },
    observationBatches({ batchSize }) {
      const worker =
        options.worker ?? (fileSize(file) >= WORKER_MIN_BYTES ? compiledWorker("./record-file-worker.js", import.meta.url) : false);
      if (worker === false || file === "-") return readObservationBatches(file, batchSize, options.onBytes);
      return readBatchesInWorker(worker, { file, batchSize }, options.onBytes);
    },
  };
}

/** The records of a file in runs, one run per chunk read, so that a consumer pays per chunk, not per record. */
async function* readRecordChunks(file: string, onBytes?: (total: number) => void): AsyncGenerator<InputRecord[]> {
  const { first, chunks } = await openInput(file, onBytes);
  if (first === "[") {
    for await (const record of readJsonArray(Readable.from(chunks, { objectMode: false }))) yield [record];
    return;
  }
  const splitter = createLineSplitter();
  let records: InputRecord[] = [];
  const onLine = (bytes: Buffer, start: number, end: number, line: number) => {
    const text = bytes.toString("utf8", start, end);
    // Skipping blank lines needs no trim for the usual line, which starts with "{".
    if (text.charCodeAt(0) !== 123 && text.trim() === "") return;
    try {
      records.push({ line, value: JSON.parse(text) as unknown });
    } catch {
      records.push({ line, error: "not valid JSON" });
    }
  };
  for await (const chunk of chunks) {
    splitter.push(chunk, onLine);
    if (records.length > 0) {
      yield records;
      records = [];
    }
  }
  splitter.end(onLine);
  if (records.length > 0) yield records;
}

/**
 * The observations of a file, validated into batches of at most `batchSize` valid ones. NDJSON
 * lines go through the builder's byte-level fast path; they are never decoded as a whole. The first
 * batch is smaller, so that storing starts early; after it, a batch is cut when it is full, or, past
 * the first batch's size, when `wanted()` says the writer waits for one. Each batch is a transaction
 * that rewrites every page it touches: batches as large as the writer's pace allows write the fewest.
 */
export async function* readObservationBatches(
  file: string,
  batchSize: number,
  onBytes?: (total: number) => void,
  wanted: () => boolean = () => false,
): AsyncGenerator<ParsedBatch> {
  const builder = createBatchBuilder(Math.min(batchSize, 1 << 18));
  const minimum = Math.min(batchSize, FIRST_BATCH_SIZE);
  let target = minimum;
  const take = () => {
    target = batchSize;
    return builder.take();
  };
  // A batch not yet full may go when the writer waits for one, once it holds a first batch's worth.
  const wantedEarly = () => builder.count >= minimum && wanted();
  const { first, chunks } = await openInput(file, onBytes);
  if (first === "[") {
    for await (const record of readJsonArray(Readable.from(chunks, { objectMode: false }))) {
      builder.addRecord(record);
      if (builder.count >= target || wantedEarly()) yield take();
    }
  } else {
    const splitter = createLineSplitter();
    const ready: ParsedBatch[] = [];
    const onLine = (bytes: Buffer, start: number, end: number, line: number) => {
      builder.addLine(bytes, start, end, line);
      if (builder.count >= target) ready.push(take());
    };
    for await (const chunk of chunks) {
      splitter.push(chunk, onLine);
      if (ready.length === 0 && wantedEarly()) ready.push(take());
      yield* ready.splice(0);
    }
    splitter.end(onLine);
    yield* ready.splice(0);
  }
  if (builder.read > 0) yield builder.take();
}

/** Opens a file (`-` for standard input) and tells an array from NDJSON by its first non-blank character. */
async function openInput(
  file: string,
  onBytes?: (total: number) => void,
): Promise<{ first: string | undefined; chunks: AsyncGenerator<Buffer> }> {
  const chunks = readChunks(file === "-" ? process.stdin : fs.createReadStream(file, { highWaterMark: 1 << 20 }), onBytes);
  const seen: Buffer[] = [];
  let first: string | undefined;
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
    seen.push(next.value);
    const match = /\S/.exec(next.value.toString("latin1"));
    if (match) {
      first = match[0];
      break;
    }
  }
  return { first, chunks: replay(seen, chunks) };
}

async function* readChunks(input: Readable, onBytes: ((total: number) => void) | undefined): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    onBytes?.(total);
    yield bytes;
  }
}

async function* replay(seen: Buffer[], rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* seen;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

async function* readJsonArray(stream: Readable): AsyncGenerator<InputRecord> {
  // Loaded for arrays only: NDJSON, the usual feed, does without it.
  const { default: streamArray } = await import("stream-json/streamers/stream-array.js");
  const items = stream.pipe(streamArray.withParserAsStream());
  let line = 0;
  try {
    for await (const item of items as AsyncIterable<{ key: number; value: unknown }>) {
      line = item.key + 1;
      yield { line, value: item.value };
    }
  } catch (error) {
    // A syntax error ends an array: nothing after it can be located reliably.
    yield { line: line + 1, error: `not valid JSON (${(error as Error).message}); the rest of the file was skipped` };
  }
}

/**
 * The reading thread's heap, in MB: it holds a few batches' strings at a time, and V8 lets a heap grow
 * to several times what it holds before collecting. Capped, a 2-million-observation PostgreSQL ingest
 * peaked at 1,028 MB instead of 1,230.
 */
const READER_HEAP_MB = 512;

/** Batches read and validated by a worker thread, at most a few ahead of the consumer. */
async function* readBatchesInWorker(url: URL, input: WorkerInput, onBytes?: (total: number) => void): AsyncGenerator<ParsedBatch> {
  const worker = new Worker(url, { workerData: input, resourceLimits: { maxOldGenerationSizeMb: READER_HEAP_MB } });
  const queue: WorkerMessage[] = [];
  let failure: Error | undefined;
  let exited = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  worker.on("message", (message: WorkerMessage) => {
    queue.push(message);
    notify();
  });
  worker.on("error", (error: Error) => {
    failure = error;
    notify();
  });
  worker.on("exit", () => {
    exited = true;
    notify();
  });
  try {
    for (;;) {
      if (queue.length === 0) worker.postMessage("waiting" satisfies WriterMessage);
      while (queue.length === 0) {
        if (failure) throw failure;
        if (exited) throw new Error(`${input.file}: the reading thread stopped before the end of the file`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const message = queue.shift()!;
      if ("error" in message) throw new Error(message.error);
      if ("done" in message) return;
      // Lets the worker read one batch further while this one is stored.
      worker.postMessage("taken" satisfies WriterMessage);
      onBytes?.(message.bytes);
      yield message.batch;
    }
  } finally {
    await worker.terminate();
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    // Reading reports the problem.
    return 0;
  }
}
