import type { ChartEntry } from "./chart-model.js";

/**
 * Compact binary forms of the engine's derived data, identical on SQLite (blob) and PostgreSQL
 * (bytea): little-endian fixed-size records.
 */

/**
 * Days per stored block of a tag's series: a block row stays small enough to sit on its B-tree page
 * (16-byte records), and recomputing recent days rewrites only the blocks that hold them, the first
 * one only for the series that change. Stored blocks depend on it: a change needs a migration that
 * drops the derived data (as 003 does).
 */
export const SERIES_BLOCK_DAYS = 16;

export function seriesBlock(day: number): number {
  return Math.floor(day / SERIES_BLOCK_DAYS);
}

/** One tag's per-day numbers in one region, ascending by day. */
export interface DaySeries {
  readonly days: Int32Array;
  readonly views: Float64Array;
  readonly pubs: Int32Array;
}

const DAY_RECORD = 16;

export function encodeDaySeries(days: ArrayLike<number>, views: ArrayLike<number>, pubs: ArrayLike<number>, count = days.length): Buffer {
  const buffer = Buffer.allocUnsafe(count * DAY_RECORD);
  for (let i = 0; i < count; i++) {
    const at = i * DAY_RECORD;
    buffer.writeInt32LE(days[i]!, at);
    buffer.writeDoubleLE(views[i]!, at + 4);
    buffer.writeInt32LE(pubs[i]!, at + 12);
  }
  return buffer;
}

export function decodeDaySeries(buffer: Uint8Array): DaySeries {
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const count = Math.floor(view.length / DAY_RECORD);
  const days = new Int32Array(count);
  const views = new Float64Array(count);
  const pubs = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * DAY_RECORD;
    days[i] = view.readInt32LE(at);
    views[i] = view.readDoubleLE(at + 4);
    pubs[i] = view.readInt32LE(at + 12);
  }
  return { days, views, pubs };
}

/**
 * A chart's rows in rank order, 5 bytes each: the tag (uint32), then the previous day's rank (0 when
 * absent, at most 100) with the new-to-top-100 flag in the top bit. A full chart stays under 1 KB, so
 * the row holding it fits on its B-tree page.
 */
export function encodeChartEntries(entries: readonly ChartEntry[]): Buffer {
  const buffer = Buffer.allocUnsafe(entries.length * CHART_ENTRY_BYTES);
  entries.forEach((entry, i) => writeChartEntry(buffer, i, entry));
  return buffer;
}

/** Writes the row at index `i` of a chart's entries. */
export function writeChartEntry(buffer: Buffer, i: number, [tag, previousRank, isNew]: ChartEntry): void {
  buffer.writeUInt32LE(tag, i * CHART_ENTRY_BYTES);
  buffer[i * CHART_ENTRY_BYTES + 4] = previousRank | (isNew << 7);
}

export function decodeChartEntries(buffer: Uint8Array): ChartEntry[] {
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const entries: ChartEntry[] = [];
  for (let at = 0; at + CHART_ENTRY_BYTES <= view.length; at += CHART_ENTRY_BYTES) {
    const flags = view[at + 4]!;
    entries.push([view.readUInt32LE(at), flags & 0x7f, flags >> 7 === 1 ? 1 : 0]);
  }
  return entries;
}

/** The tags of a chart's entries, in rank order. */
export function decodeChartTags(buffer: Uint8Array): Int32Array {
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const tags = new Int32Array(Math.floor(view.length / CHART_ENTRY_BYTES));
  for (let i = 0; i < tags.length; i++) tags[i] = view.readUInt32LE(i * CHART_ENTRY_BYTES);
  return tags;
}

export const CHART_ENTRY_BYTES = 5;

/** Int32 values to bytes and back (first-entry pairs). */
export function encodeInts(values: ArrayLike<number>): Buffer {
  const buffer = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buffer.writeInt32LE(values[i]!, i * 4);
  return buffer;
}

export function decodeInts(buffer: Uint8Array): Int32Array {
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const out = new Int32Array(view.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = view.readInt32LE(i * 4);
  return out;
}

/** One region's day: parallel columns of tag, views and publish count. */
export interface RegionDay {
  tags: Int32Array;
  views: Float64Array;
  pubs: Int32Array;
}

/** Packs a region's day column-wise: count and a spare word, tags, publish counts, then views (8-byte aligned). */
export function encodeRegionDay(day: RegionDay): Buffer {
  const n = day.tags.length;
  const buffer = Buffer.alloc(8 + n * 16);
  const ints = new Int32Array(buffer.buffer, buffer.byteOffset, 2 + n * 2);
  ints[0] = n;
  ints.set(day.tags, 2);
  ints.set(day.pubs, 2 + n);
  new Float64Array(buffer.buffer, buffer.byteOffset + 8 + n * 8, n).set(day.views);
  return buffer;
}

export function decodeRegionDay(bytes: Uint8Array): RegionDay {
  // Typed views are laid over the bytes, copied first into aligned memory when they are not aligned.
  let aligned = bytes;
  if (bytes.byteOffset % 8 !== 0) {
    aligned = new Uint8Array(bytes.byteLength);
    aligned.set(bytes);
  }
  const { buffer, byteOffset } = aligned;
  const n = new Int32Array(buffer, byteOffset, 1)[0]!;
  return {
    tags: new Int32Array(buffer, byteOffset + 8, n),
    pubs: new Int32Array(buffer, byteOffset + 8 + n * 4, n),
    views: new Float64Array(buffer, byteOffset + 8 + n * 8, n),
  };
}
