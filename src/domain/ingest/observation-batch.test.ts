import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Observation } from "../observation.js";
import { creatorSig, videoSig } from "../observation-order.js";
import { decodeBatch } from "../../../test/parsed-batch.js";
import { createBatchBuilder, createStringTable } from "./observation-batch.js";

const observationArbitrary: fc.Arbitrary<Observation> = fc.record({
  videoId: fc.stringMatching(/^[0-9]{1,4}$/),
  createTime: fc.integer({ min: 0, max: 100 }),
  region: fc.constantFrom("US", "GB", "FR"),
  hashtags: fc.uniqueArray(fc.constantFrom("a", "b", "é", "zz", "🌸"), { maxLength: 3 }).map((tags) => tags.sort()),
  username: fc.constantFrom("ana", "zed", "Ünï"),
  viewCount: fc.integer({ min: 0, max: 3 }),
  observedAt: fc.integer({ min: 100, max: 103 }),
  nickName: fc.constantFrom(null, "Ana", 'quo"te'),
  avatarUrl: fc.constantFrom(null, "https://a.example/1.png"),
});

describe("createBatchBuilder", () => {
  it("hands over observations that decode to what went in, across string table restarts", () => {
    fc.assert(
      fc.property(fc.array(fc.array(observationArbitrary, { maxLength: 10 }), { maxLength: 6 }), (batches) => {
        const builder = createBatchBuilder(2, { maxStrings: 8 });
        const table = createStringTable();
        for (const observations of batches) {
          for (const o of observations) builder.add(o);
          const batch = builder.take();
          table.apply(batch);
          expect(decodeBatch(batch, table.strings)).toEqual(observations);
          expect(batch.read).toBe(observations.length);
        }
      }),
    );
  });

  it("groups a batch by video and by creator, each with its latest observation under the total order", () => {
    fc.assert(
      fc.property(fc.array(observationArbitrary, { maxLength: 16 }), (observations) => {
        const builder = createBatchBuilder(4);
        for (const o of observations) builder.add(o);
        const batch = builder.take();
        const table = createStringTable();
        table.apply(batch);
        const { groups } = batch;
        const decoded = decodeBatch(batch, table.strings);
        const later = (sig: (o: Observation) => string) => (a: Observation, b: Observation) =>
          a.observedAt - b.observedAt || a.viewCount - b.viewCount || Buffer.compare(Buffer.from(sig(a)), Buffer.from(sig(b)));

        const videoIds = [...new Set(observations.map((o) => o.videoId))];
        expect(groups.videoCount).toBe(videoIds.length);
        for (let g = 0; g < groups.videoCount; g++) {
          const mine = observations.filter((o) => o.videoId === table.strings[groups.video[g]!]);
          const latest = mine.reduce((a, b) => (later(videoSig)(b, a) > 0 ? b : a));
          // Observations at the same time and views with the same attributes are equally late.
          const found = decoded[groups.videoLatest[g]!]!;
          expect([found.videoId, found.observedAt, found.viewCount, videoSig(found)]).toEqual([
            latest.videoId,
            latest.observedAt,
            latest.viewCount,
            videoSig(latest),
          ]);
          expect([groups.firstAt[g], groups.lastAt[g]]).toEqual([
            Math.min(...mine.map((o) => o.observedAt)),
            Math.max(...mine.map((o) => o.observedAt)),
          ]);
          const times = new Map<number, number>();
          for (const o of mine) times.set(o.observedAt, Math.max(o.viewCount, times.get(o.observedAt) ?? -1));
          const kept = [];
          for (let k = groups.timeStart[g]!; k < groups.timeStart[g + 1]!; k++) kept.push([groups.times[k]!, groups.timeViews[k]!]);
          expect(new Map(kept as [number, number][])).toEqual(times);
        }
        expect(groups.repeated).toBe(observations.length - (groups.timeStart[groups.videoCount] ?? 0));

        for (let c = 0; c < groups.creatorCount; c++) {
          const mine = observations.filter((o) => o.username === table.strings[groups.creator[c]!]);
          const latest = mine.reduce((a, b) => (later(creatorSig)(b, a) > 0 ? b : a));
          // Observations of the creator at the same time and views with the same display fields are equally late.
          const found = decoded[groups.creatorLatest[c]!]!;
          expect([found.observedAt, found.viewCount, creatorSig(found)]).toEqual([latest.observedAt, latest.viewCount, creatorSig(latest)]);
        }
      }),
    );
  });

  it("counts rejected records with their line and reason", () => {
    const builder = createBatchBuilder(4);
    builder.addRecord({ line: 3, error: "not valid JSON" });
    builder.addRecord({ line: 4, value: { id: "1" } });
    const batch = builder.take();
    expect(batch.read).toBe(2);
    expect(batch.observations.count).toBe(0);
    expect(batch.rejected).toEqual([
      { line: 3, reason: "not valid JSON" },
      { line: 4, reason: "missing field create_time" },
    ]);
  });
});
