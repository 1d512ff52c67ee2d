import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import type { BulkColumn, ColumnType } from "./bulk.js";

/** Bytes gathered before a chunk goes to the server. */
const CHUNK_BYTES = 1 << 20;

/** PostgreSQL's binary COPY signature, then zero flags and no header extension. */
const HEADER = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]);

/**
 * Inserts rows with `COPY ... FROM STDIN (FORMAT binary)`: values travel as PostgreSQL stores them,
 * where parameters would travel as text (bytea in hex, twice its size) to be parsed again.
 */
export async function copyRows(
  client: pg.PoolClient,
  table: string,
  columns: readonly BulkColumn[],
  rows: Iterable<readonly unknown[]>,
): Promise<void> {
  const sink = client.query(copyFrom(`copy ${table} (${columns.map((c) => c[0]).join(", ")}) from stdin (format binary)`));
  await pipeline(Readable.from(encodeRows(columns, rows)), sink);
}

/** The binary COPY stream of `rows`, in chunks of about CHUNK_BYTES. */
function* encodeRows(columns: readonly BulkColumn[], rows: Iterable<readonly unknown[]>): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let at = 0;
  const room = (bytes: number): Buffer | undefined => {
    if (at + bytes <= chunk.length) return undefined;
    const full = chunk.subarray(0, at);
    chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    at = 0;
    return full;
  };
  yield HEADER;
  for (const row of rows) {
    let size = 2;
    for (let i = 0; i < columns.length; i++) size += 4 + valueBytes(columns[i]![1], row[i], columns[i]![0]);
    const full = room(size);
    if (full && full.length > 0) yield full;
    at = chunk.writeInt16BE(columns.length, at);
    for (let i = 0; i < columns.length; i++) at = writeValue(chunk, at, columns[i]![1], row[i]);
  }
  const full = room(2);
  if (full && full.length > 0) yield full;
  at = chunk.writeInt16BE(-1, at);
  yield chunk.subarray(0, at);
}

function valueBytes(type: BulkColumn[1], value: unknown, column: string): number {
  if (value === null || value === undefined) return 0;
  switch (type) {
    case "int4":
      return 4;
    case "int8":
    case "float8":
      return 8;
    case "text":
      if (typeof value !== "string") throw new TypeError(`column ${column}: expected text, got ${typeof value}`);
      return Buffer.byteLength(value);
    case "bytea":
      if (!(value instanceof Uint8Array)) throw new TypeError(`column ${column}: expected bytes, got ${typeof value}`);
      return value.byteLength;
  }
}

/** Writes one field, its length then its value, and returns the offset after it. */
function writeValue(chunk: Buffer, at: number, type: BulkColumn[1], value: unknown): number {
  if (value === null || value === undefined) return chunk.writeInt32BE(-1, at);
  switch (type) {
    case "int4":
      return chunk.writeInt32BE(Number(value), chunk.writeInt32BE(4, at));
    case "int8":
      return chunk.writeBigInt64BE(BigInt(value as number | bigint), chunk.writeInt32BE(8, at));
    case "float8":
      return chunk.writeDoubleBE(Number(value), chunk.writeInt32BE(8, at));
    case "text": {
      const length = chunk.write(value as string, at + 4, "utf8");
      chunk.writeInt32BE(length, at);
      return at + 4 + length;
    }
    case "bytea": {
      const bytes = value as Uint8Array;
      chunk.set(bytes, chunk.writeInt32BE(bytes.byteLength, at));
      return at + 4 + bytes.byteLength;
    }
  }
}

/** Bytes of each fixed-size type's binary value. */
const FIXED_BYTES: Partial<Record<ColumnType, number>> = { int4: 4, int8: 8, float8: 8 };

/**
 * The rows of `query`, through `COPY (query) TO STDOUT (FORMAT binary)`, each as an array of its values
 * decoded by `types`, in arrays of up to `chunk` rows. A query's results would travel as text (bytea in
 * hex, twice its size), which the server writes and the driver turns into strings and back into bytes:
 * 48 MB of stored days took 381-778 ms to read that way, and 100-205 ms through COPY. Bytes come as
 * views of the received data; int8 values as numbers, exact below 2^53.
 */
export async function* copyRowsOut(
  client: pg.PoolClient,
  query: string,
  types: readonly ColumnType[],
  chunk: number,
): AsyncGenerator<unknown[][]> {
  const source = client.query(copyTo(`copy (${query}) to stdout (format binary)`));
  let started = false;
  let ended = false;
  let rows: unknown[][] = [];
  /** Decodes what comes at `at`: the header, a row into `rows`, or the trailer; see readRow for what it returns. */
  const next = (data: Buffer, at: number): number => {
    if (!started) {
      const end = readHeader(data, at);
      started = end >= 0;
      return end;
    }
    if (at + 2 > data.length) return -(at + 2);
    if (data.readInt16BE(at) !== -1) return readRow(data, at, types, rows);
    ended = true;
    return at + 2;
  };
  // What began in an earlier chunk but ends in a later one, in pieces, and how many bytes of it must
  // be here before it can be decoded further. Only such a row is copied, once it is all here; the
  // others are decoded where they came.
  let carry: Buffer[] | undefined;
  let carried = 0;
  let needed = 0;
  for await (const received of source as AsyncIterable<Buffer>) {
    let at = 0;
    while (carry !== undefined && at < received.length) {
      const take = Math.min(needed - carried, received.length - at);
      carry.push(received.subarray(at, at + take));
      carried += take;
      at += take;
      if (carried < needed) break;
      const joined = Buffer.concat(carry, carried);
      const end = next(joined, 0);
      if (end < 0) {
        carry = [joined];
        needed = -end;
        continue;
      }
      at -= carried - end;
      carry = undefined;
    }
    while (carry === undefined && !ended) {
      if (rows.length === chunk) {
        yield rows;
        rows = [];
      }
      const end = next(received, at);
      if (end < 0) {
        carry = [received.subarray(at)];
        carried = received.length - at;
        needed = -end - at;
      } else at = end;
    }
    if (rows.length === chunk) {
      yield rows;
      rows = [];
    }
    if (ended && at < received.length) throw new Error(`the COPY of "${query.slice(0, 80)}" sent data after its end`);
  }
  if (!ended) throw new Error(`the COPY of "${query.slice(0, 80)}" ended mid-row`);
  if (rows.length > 0) yield rows;
}

/** Checks the binary COPY header at `at` and returns the offset after it, or minus the offset `data` must reach. */
function readHeader(data: Buffer, at: number): number {
  if (at + HEADER.length > data.length) return -(at + HEADER.length);
  if (!data.subarray(at, at + 11).equals(HEADER.subarray(0, 11))) throw new Error("not a binary COPY stream: its signature differs");
  const end = at + HEADER.length + data.readUInt32BE(at + 15);
  return end > data.length ? -end : end;
}

/**
 * Decodes the row at `at`, whose field count is there, into `rows` and returns the offset after it; or,
 * when `data` ends before the row does, minus the offset `data` must reach before it can be decoded.
 */
function readRow(data: Buffer, at: number, types: readonly ColumnType[], rows: unknown[][]): number {
  const fields = data.readInt16BE(at);
  if (fields !== types.length) throw new Error(`COPY row of ${fields} columns where ${types.length} were expected`);
  // Lengths first: a row is decoded only once all of it is here.
  let end = at + 2;
  for (let i = 0; i < fields; i++) {
    if (end + 4 > data.length) return -(end + 4);
    end += 4 + Math.max(0, data.readInt32BE(end));
    if (end > data.length) return -end;
  }
  const row = new Array<unknown>(fields);
  let p = at + 2;
  for (let i = 0; i < fields; i++) {
    const length = data.readInt32BE(p);
    p += 4;
    if (length === -1) {
      row[i] = null;
      continue;
    }
    const type = types[i]!;
    const fixed = FIXED_BYTES[type];
    if (fixed !== undefined && length !== fixed) throw new Error(`COPY column ${i + 1}: ${length} bytes where ${type} has ${fixed}`);
    switch (type) {
      case "int4":
        row[i] = data.readInt32BE(p);
        break;
      case "int8":
        row[i] = data.readInt32BE(p) * 2 ** 32 + data.readUInt32BE(p + 4);
        break;
      case "float8":
        row[i] = data.readDoubleBE(p);
        break;
      case "text":
        row[i] = data.toString("utf8", p, p + length);
        break;
      case "bytea":
        row[i] = data.subarray(p, p + length);
        break;
    }
    p += length;
  }
  rows.push(row);
  return p;
}
