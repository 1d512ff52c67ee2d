import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { BulkColumn } from "./bulk.js";

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
