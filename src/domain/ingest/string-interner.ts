import { isUtf8 } from "node:buffer";

/**
 * Numbers distinct strings 0, 1, 2, ... in order of first use, keyed by their UTF-8 bytes: a value
 * read from a file is looked up without decoding it into a string, which is decoded only once, when
 * new. Equal strings always get the same number, whichever way they come in: bytes that are not
 * valid UTF-8 get the number of the string they decode to.
 */
export interface StringInterner {
  /** Every string interned, by number. */
  readonly strings: readonly string[];
  readonly size: number;
  /** The number of the UTF-8 text held in `bytes[start..end)`. */
  internBytes(bytes: Buffer, start: number, end: number): number;
  intern(value: string): number;
  /** Whether string `id` is the text in `bytes[start..end)`: cheaper than a lookup when a guess is at hand. */
  holds(id: number, bytes: Buffer, start: number, end: number): boolean;
  /** Strings interned since the last call. */
  takeNew(): string[];
  clear(): void;
}

const EMPTY = -1;

export function createStringInterner(): StringInterner {
  // Byte sequences map to string numbers; a string has one entry per spelling. An entry is four
  // numbers in one open-addressed table (hash, string, bytes start, bytes length), so that a probe
  // touches one cache line and then the bytes themselves.
  let arena = Buffer.allocUnsafe(1 << 20);
  let arenaUsed = 0;
  let table = new Int32Array(4 << 13).fill(EMPTY);
  let entries = 0;
  // Where each string's canonical (valid UTF-8) spelling lies in the arena.
  let canonicalStart = new Int32Array(1 << 12);
  let canonicalLength = new Int32Array(1 << 12);
  let strings: string[] = [];
  let fresh: string[] = [];
  let scratch = Buffer.allocUnsafe(1 << 12);

  const hashOf = (bytes: Buffer, start: number, end: number): number => {
    let hash = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    return hash;
  };

  const sameBytes = (at: number, length: number, bytes: Buffer, start: number, end: number): boolean => {
    if (length !== end - start) return false;
    // Past a few bytes, a native comparison costs less than the loop.
    if (length > 24) return arena.compare(bytes, start, end, at, at + length) === 0;
    for (let i = start, j = at; i < end; i++, j++) if (arena[j] !== bytes[i]) return false;
    return true;
  };

  /** Where these bytes' entry is in the table, or the empty place where it belongs. */
  const find = (bytes: Buffer, start: number, end: number, hash: number): number => {
    const mask = table.length - 4;
    for (let at = (hash << 2) & mask; ; at = (at + 4) & mask) {
      if (table[at + 1] === EMPTY) return at;
      if (table[at] === hash && sameBytes(table[at + 2]!, table[at + 3]!, bytes, start, end)) return at;
    }
  };

  const addEntry = (bytes: Buffer, start: number, end: number, hash: number, at: number, string: number): void => {
    const length = end - start;
    if (arenaUsed + length > arena.length) {
      const larger = Buffer.allocUnsafe(Math.max(arena.length * 2, arenaUsed + length));
      arena.copy(larger, 0, 0, arenaUsed);
      arena = larger;
    }
    bytes.copy(arena, arenaUsed, start, end);
    table[at] = hash;
    table[at + 1] = string;
    table[at + 2] = arenaUsed;
    table[at + 3] = length;
    arenaUsed += length;
    if (++entries * 2 > table.length / 4) rehash(table.length * 2);
  };

  const addString = (value: string, at: number, length: number): number => {
    const id = strings.length;
    strings.push(value);
    fresh.push(value);
    if (id === canonicalStart.length) {
      canonicalStart = grow(canonicalStart);
      canonicalLength = grow(canonicalLength);
    }
    canonicalStart[id] = at;
    canonicalLength[id] = length;
    return id;
  };

  const rehash = (size: number) => {
    const old = table;
    table = new Int32Array(size).fill(EMPTY);
    const mask = size - 4;
    for (let from = 0; from < old.length; from += 4) {
      if (old[from + 1] === EMPTY) continue;
      let at = (old[from]! << 2) & mask;
      while (table[at + 1] !== EMPTY) at = (at + 4) & mask;
      table.set(old.subarray(from, from + 4), at);
    }
  };

  const intern = (value: string): number => {
    if (value.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(value.length * 3);
    const length = scratch.write(value, 0, "utf8");
    const hash = hashOf(scratch, 0, length);
    const at = find(scratch, 0, length, hash);
    if (table[at + 1] !== EMPTY) return table[at + 1]!;
    const id = addString(value, arenaUsed, length);
    addEntry(scratch, 0, length, hash, at, id);
    return id;
  };

  return {
    get strings() {
      return strings;
    },
    get size() {
      return strings.length;
    },
    internBytes(bytes, start, end) {
      const hash = hashOf(bytes, start, end);
      const at = find(bytes, start, end, hash);
      if (table[at + 1] !== EMPTY) return table[at + 1]!;
      const text = bytes.toString("utf8", start, end);
      if (isUtf8(bytes.subarray(start, end))) {
        const id = addString(text, arenaUsed, end - start);
        addEntry(bytes, start, end, hash, at, id);
        return id;
      }
      // Interning may grow the table: the place for this spelling is found again afterwards.
      const id = intern(text);
      addEntry(bytes, start, end, hash, find(bytes, start, end, hash), id);
      return id;
    },
    intern,
    holds: (id, bytes, start, end) => sameBytes(canonicalStart[id]!, canonicalLength[id]!, bytes, start, end),
    takeNew() {
      const taken = fresh;
      fresh = [];
      return taken;
    },
    clear() {
      arenaUsed = 0;
      entries = 0;
      strings = [];
      fresh = [];
      table = new Int32Array(4 << 13).fill(EMPTY);
    },
  };
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const larger = new Int32Array(array.length * 2);
  larger.set(array);
  return larger;
}
