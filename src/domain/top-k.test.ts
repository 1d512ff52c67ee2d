import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TopK } from "./top-k.js";

describe("TopK", () => {
  it("keeps exactly the k best items, best first", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), fc.integer({ min: 1, max: 20 }), (values, k) => {
        // Items are indexes; ties on value are broken by the smaller index, so the order is strict.
        const better = (a: number, b: number) => values[a]! > values[b]! || (values[a] === values[b] && a < b);
        const top = new TopK(k, better);
        values.forEach((_, i) => top.offer(i));
        const expected = values
          .map((_, i) => i)
          .sort((a, b) => (better(a, b) ? -1 : 1))
          .slice(0, k);
        expect([...top.sorted()]).toEqual(expected);
      }),
    );
  });
});
