/** Receives one line: `bytes[start..end)`, without its line break, numbered from 1. */
export type OnLine = (bytes: Buffer, start: number, end: number, line: number) => void;

export interface LineSplitter {
  /** Calls `onLine` for every line the chunk completes. */
  push(chunk: Buffer, onLine: OnLine): void;
  /** Calls `onLine` for the last line when the input does not end with a line break. */
  end(onLine: OnLine): void;
}

/**
 * Splits bytes into lines at `\n` (a `\r` before it stays on the line: JSON ignores it) without
 * decoding them: a line within a chunk is passed as a range of that chunk, and only a line split
 * across chunks is copied.
 */
export function createLineSplitter(): LineSplitter {
  let pending: Buffer[] = [];
  let line = 0;

  return {
    push(chunk, onLine) {
      let start = 0;
      let end = chunk.indexOf(10);
      if (end < 0) {
        if (chunk.length > 0) pending.push(chunk);
        return;
      }
      if (pending.length > 0) {
        pending.push(chunk.subarray(0, end));
        const joined = Buffer.concat(pending);
        pending = [];
        onLine(joined, 0, joined.length, ++line);
        start = end + 1;
        end = chunk.indexOf(10, start);
      }
      while (end >= 0) {
        onLine(chunk, start, end, ++line);
        start = end + 1;
        end = chunk.indexOf(10, start);
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    },
    end(onLine) {
      if (pending.length === 0) return;
      const joined = Buffer.concat(pending);
      pending = [];
      onLine(joined, 0, joined.length, ++line);
    },
  };
}
