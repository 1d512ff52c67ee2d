import fs from "node:fs";
import readline from "node:readline";
import { Readable, Transform } from "node:stream";
import streamArray from "stream-json/streamers/stream-array.js";

/** One item read from an input file: its position, and the parsed value or why it could not be read. */
export type InputRecord =
  | { readonly line: number; readonly value: unknown; readonly error?: undefined }
  | { readonly line: number; readonly value?: undefined; readonly error: string };

/**
 * Streams the records of an NDJSON file or of a file holding one JSON array, telling them apart by the
 * first non-blank character. `-` reads standard input. For an array, `line` is the item's 1-based index.
 */
export async function* readRecords(file: string, options: { onBytes?: (total: number) => void } = {}): AsyncGenerator<InputRecord> {
  const source = file === "-" ? process.stdin : fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const report = options.onBytes;
  let total = 0;
  const input = report
    ? source.pipe(
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            report((total += chunk.length));
            done(null, chunk);
          },
        }),
      )
    : source;
  if (input !== source) source.on("error", (error: Error) => input.destroy(error));
  const { first, stream } = await peekFirstChar(input);
  if (first === "[") yield* readJsonArray(stream);
  else yield* readNdjson(stream);
}

async function* readNdjson(stream: Readable): AsyncGenerator<InputRecord> {
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === "") continue;
    try {
      yield { line, value: JSON.parse(text) as unknown };
    } catch {
      yield { line, error: "not valid JSON" };
    }
  }
}

async function* readJsonArray(stream: Readable): AsyncGenerator<InputRecord> {
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

/** Reads until the first non-blank character and returns a stream that still yields everything. */
async function peekFirstChar(input: Readable): Promise<{ first: string | undefined; stream: Readable }> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const seen: Buffer[] = [];
  let first: string | undefined;
  while (first === undefined) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
    seen.push(chunk);
    const match = /\S/.exec(chunk.toString("latin1"));
    if (match) first = match[0];
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* seen;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield typeof next.value === "string" ? Buffer.from(next.value) : next.value;
    }
  }
  return { first, stream: Readable.from(replay(), { objectMode: false }) };
}
