import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createLineSplitter } from "./line-splitter.js";

function split(chunks: Buffer[]): [string, number][] {
  const lines: [string, number][] = [];
  const onLine = (bytes: Buffer, start: number, end: number, line: number) => lines.push([bytes.toString("utf8", start, end), line]);
  const splitter = createLineSplitter();
  for (const chunk of chunks) splitter.push(chunk, onLine);
  splitter.end(onLine);
  return lines;
}

/** Cuts `bytes` at the given offsets, anywhere, even inside a character. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

describe("createLineSplitter", () => {
  it("numbers lines from 1 and keeps empty ones", () => {
    expect(split([Buffer.from("a\n\nb\n")])).toEqual([
      ["a", 1],
      ["", 2],
      ["b", 3],
    ]);
  });

  it("emits a last line that has no line break", () => {
    expect(split([Buffer.from("a\nb")])).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
  });

  it("leaves a carriage return on its line", () => {
    expect(split([Buffer.from('{"a":1}\r\n{"b":2}\r\n')])).toEqual([
      ['{"a":1}\r', 1],
      ['{"b":2}\r', 2],
    ]);
  });

  it("emits nothing for empty input", () => {
    expect(split([])).toEqual([]);
    expect(split([Buffer.alloc(0)])).toEqual([]);
  });

  it("gives the same lines however the bytes are cut into chunks", () => {
    const line = fc.string({ unit: fc.constantFrom("a", "é", "€", "🌸", " ", "\r", "{", '"'), maxLength: 12 });
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 12 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 10 }),
        (lines, trailingBreak, offsets) => {
          const text = lines.join("\n") + (trailingBreak && lines.length > 0 ? "\n" : "");
          // A final line break ends the last line rather than starting an empty one.
          const pieces = text.split("\n");
          if (pieces.at(-1) === "") pieces.pop();
          const expected = pieces.map((t, i) => [t, i + 1]);
          expect(split(cut(Buffer.from(text), offsets))).toEqual(expected);
        },
      ),
    );
  });
});
