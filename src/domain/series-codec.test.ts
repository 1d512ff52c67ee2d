import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ChartEntry } from "./chart-model.js";
import {
  decodeChartEntries,
  decodeChartTags,
  decodeDaySeries,
  decodeInts,
  decodeRegionDay,
  encodeChartEntries,
  encodeDaySeries,
  encodeInts,
  encodeRegionDay,
} from "./series-codec.js";

describe("series codec", () => {
  it("round-trips day series exactly", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.nat()), {
          maxLength: 50,
        }),
        (records) => {
          const decoded = decodeDaySeries(
            encodeDaySeries(
              records.map((r) => r[0]),
              records.map((r) => r[1]),
              records.map((r) => r[2]),
            ),
          );
          expect([...decoded.days]).toEqual(records.map((r) => r[0]));
          expect([...decoded.views]).toEqual(records.map((r) => r[1]));
          expect([...decoded.pubs]).toEqual(records.map((r) => r[2]));
        },
      ),
    );
  });

  it("round-trips int32 lists, also from a view into a larger buffer", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), (values) => {
        const padded = Buffer.concat([Buffer.from([1, 2, 3]), encodeInts(values)]);
        expect([...decodeInts(padded.subarray(3))]).toEqual(values);
      }),
    );
  });
});

describe("chart entries codec", () => {
  it("round-trips any chart of up to 100 rows in under 1 KB, from a view into a larger buffer", () => {
    const entry = fc.tuple(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 0, max: 100 }),
      fc.constantFrom<0 | 1>(0, 1),
    ) as fc.Arbitrary<ChartEntry>;
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 100 }), (entries) => {
        const encoded = encodeChartEntries(entries);
        expect(encoded.length).toBeLessThan(1000);
        const unaligned = Buffer.concat([Buffer.from([7]), encoded]).subarray(1);
        expect(decodeChartEntries(unaligned)).toEqual(entries);
        // The tags alone, as the ranking holds them (ids are below 2^31).
        expect(Array.from(decodeChartTags(unaligned))).toEqual(entries.map(([tag]) => tag | 0));
      }),
    );
  });
});

describe("region day codec", () => {
  it("round-trips columns of any length, from unaligned bytes too", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.nat()), { maxLength: 40 }),
        (rows) => {
          const encoded = encodeRegionDay({
            tags: Int32Array.from(rows.map((r) => r[0])),
            views: Float64Array.from(rows.map((r) => r[1])),
            pubs: Int32Array.from(rows.map((r) => r[2])),
          });
          const unaligned = Buffer.concat([Buffer.from([9]), encoded]).subarray(1);
          const decoded = decodeRegionDay(unaligned);
          expect([...decoded.tags]).toEqual(rows.map((r) => r[0]));
          expect([...decoded.views]).toEqual(rows.map((r) => r[1]));
          expect([...decoded.pubs]).toEqual(rows.map((r) => r[2]));
        },
      ),
    );
  });
});
