import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createBatchBuilder, createStringTable, type ParsedBatch } from "./observation-batch.js";
import { createScannedObservation, scanObservation } from "./observation-scanner.js";

const base = {
  id: "7590177868249999385",
  create_time: 1767225998,
  region_code: "BR",
  hashtag_names: ["fashion", "ootd"],
  username: "rafaelvibes",
  view_count: 2,
  observed_at: 1767226890,
  nick_name: "Rafael",
  avatar_url: "https://p16.example/a.jpeg",
};

/**
 * Values at the edges of the fast path: escapes, case, '#', spaces, odd numbers, wrong types.
 * "RAW" stands for a raw tab, which JSON forbids inside strings.
 */
const fieldValue: Record<string, fc.Arbitrary<unknown>> = {
  id: fc.constantFrom("1", "007", "7590177868249999385", "123456789012345678901", "", "12a", 12, null),
  create_time: fc.constantFrom(0, 1767225998, 253402300799, 253402300800, -1, 1.5, 1e3, "1", null),
  region_code: fc.constantFrom("BR", "uk", "Us", "GB", "USA", "U", "1A", "ÉU", null),
  hashtag_names: fc.array(
    fc.constantFrom(
      "fashion",
      "Fashion",
      "#ootd",
      " ootd",
      "ootd\u00a0",
      "#",
      "",
      "ünïcode",
      "ÜNÏ",
      'a"b',
      "tab\tin",
      "RAW",
      "x".repeat(201),
      "é".repeat(150),
      3,
    ),
    { maxLength: 4 },
  ),
  username: fc.constantFrom("rafaelvibes", "Ana 🌸", "", "u".repeat(100), "u".repeat(101), "é".repeat(60), 'quo"te', "\u0001", "RAW", 5),
  view_count: fc.constantFrom(0, 2, 999999999999999, 9007199254740991, 9007199254740992, -3, 2.5, null),
  observed_at: fc.constantFrom(1767226890, 1767225997, 253402300799, 0),
  nick_name: fc.constantFrom("Rafael", null, "", "n".repeat(201), "Hương", "line\nbreak", "\ud800", "aRAWb", 7),
  avatar_url: fc.constantFrom("https://p16.example/a.jpeg", null, "https://x/é", "back\\slash"),
};

const lineArbitrary: fc.Arbitrary<string> = fc
  .record({
    overrides: fc.dictionary(fc.constantFrom(...Object.keys(fieldValue)), fc.constant(true), { maxKeys: 3 }),
    values: fc.record(fieldValue),
    drop: fc.option(fc.constantFrom(...Object.keys(base)), { nil: undefined }),
    extra: fc.option(fc.constantFrom('"extra":1', '"id":"5"', '"__proto__":{}'), { nil: undefined }),
    spacing: fc.constantFrom("", " ", "\t", "\r"),
    shuffle: fc.boolean(),
    trailer: fc.constantFrom("", " ", "\r", ",", "}", "x"),
  })
  .map(({ overrides, values, drop, extra, spacing, shuffle, trailer }) => {
    const fields = Object.entries(base)
      .filter(([key]) => key !== drop)
      .map(([key, value]) => [key, key in overrides ? values[key as keyof typeof values] : value] as const);
    if (shuffle) fields.reverse();
    // Backslashes in the arbitrary's strings stand for JSON escapes, written as they are.
    const parts = fields.map(([key, value]) => `"${key}":${spacing}${JSON.stringify(value).replace(/\\\\\\\\/g, "\\\\")}`);
    if (extra) parts.push(extra);
    return `${spacing}{${parts.join(`,${spacing}`)}}${trailer}`;
  });

function decode(batch: ParsedBatch) {
  const table = createStringTable();
  table.apply(batch);
  const text = (id: number) => (id < 0 ? null : table.strings[id]);
  const o = batch.observations;
  return {
    rejected: batch.rejected,
    observations: Array.from({ length: o.count }, (_, i) => ({
      id: text(o.videoId[i]!),
      region: text(o.region[i]!),
      username: text(o.username[i]!),
      nick: text(o.nickName[i]!),
      avatar: text(o.avatarUrl[i]!),
      hashtags: [...o.hashtags.subarray(o.hashtagStart[i]!, o.hashtagStart[i + 1]!)].map(text).sort(),
      numbers: [o.createTime[i], o.viewCount[i], o.observedAt[i]],
    })),
  };
}

/** The general path: JSON.parse, then the schema. */
function parsedTheGeneralWay(line: string): ParsedBatch {
  const builder = createBatchBuilder(4);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    builder.reject(1, "not valid JSON");
    return builder.take();
  }
  builder.addRecord({ line: 1, value });
  return builder.take();
}

describe("scanObservation", () => {
  it("reads the common form of a line", () => {
    const line = Buffer.from(JSON.stringify(base));
    const scanned = createScannedObservation();
    expect(scanObservation(line, 0, line.length, scanned)).toBe(true);
    expect(line.toString("utf8", scanned.idStart, scanned.idEnd)).toBe(base.id);
    expect(line.toString("utf8", scanned.usernameStart, scanned.usernameEnd)).toBe(base.username);
    expect(line.toString("utf8", scanned.avatarStart, scanned.avatarEnd)).toBe(base.avatar_url);
    expect([scanned.createTime, scanned.viewCount, scanned.observedAt]).toEqual([base.create_time, base.view_count, base.observed_at]);
    expect(scanned.hashtagCount).toBe(2);
  });

  it("leaves escapes, unknown keys and non-integers to the general path", () => {
    const scanned = createScannedObservation();
    for (const line of [
      JSON.stringify({ ...base, username: 'a"b' }),
      JSON.stringify({ ...base, extra: 1 }),
      JSON.stringify(base).replace('"view_count":2', '"view_count":2.0'),
      JSON.stringify(base).replace('"view_count":2', '"view_count":02'),
      JSON.stringify({ ...base, nick_name: true }),
      JSON.stringify({ ...base, nick_name: "a\tb" }).replace("\\t", "\t"),
    ]) {
      expect(scanObservation(Buffer.from(line), 0, Buffer.byteLength(line), scanned)).toBe(false);
    }
  });
});

describe("BatchBuilder.addLine", () => {
  it("accepts and rejects exactly as JSON.parse and the schema do, with the same values", () => {
    fc.assert(
      fc.property(lineArbitrary, (line) => {
        const bytes = Buffer.from(`padding\n${line}\nmore`);
        const builder = createBatchBuilder(4);
        builder.addLine(bytes, 8, 8 + Buffer.byteLength(line), 1);
        expect(decode(builder.take())).toEqual(decode(parsedTheGeneralWay(line)));
      }),
      { numRuns: 2000 },
    );
  });

  it("gives equal strings one number, whether their bytes are valid UTF-8 or not", () => {
    const [before, after] = JSON.stringify({ ...base, username: "X" }).split('"X"') as [string, string];
    const line = Buffer.concat([Buffer.from(`${before}"`), Buffer.from([0xff]), Buffer.from(`"${after}`)]);
    const builder = createBatchBuilder(4);
    builder.addLine(line, 0, line.length, 1);
    builder.add({ ...toObservation(), username: "\ufffd" });
    const batch = builder.take();
    expect(batch.observations.count).toBe(2);
    expect(batch.observations.username[0]).toBe(batch.observations.username[1]);
    expect(batch.groups.creatorCount).toBe(1);
  });
});

function toObservation() {
  return {
    videoId: base.id,
    createTime: base.create_time,
    region: base.region_code,
    hashtags: base.hashtag_names,
    username: base.username,
    viewCount: base.view_count,
    observedAt: base.observed_at,
    nickName: base.nick_name,
    avatarUrl: base.avatar_url,
  };
}
