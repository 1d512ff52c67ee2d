import { describe, expect, it } from "vitest";
import { dayStart } from "../../lib/days.js";
import { curvesAsOf, layoutTrend } from "./normalize.js";
import { parseRetryAfter } from "./upstream-error.js";

const D = 20_500;

describe("layoutTrend", () => {
  it("scales a 0-100 daily curve to 0-1 with the window's peak at 1, one point per day of a 7-day window", () => {
    const curve = [10, 20, 40, 80, 40, 20, 10].map((value, i) => ({ day: D - 6 + i, value }));
    expect(layoutTrend(curve, 7, D)).toEqual(
      [0.13, 0.25, 0.5, 1, 0.5, 0.25, 0.13].map((value, i) => ({ time: dayStart(D - 6 + i), value })),
    );
  });

  it("gives 0 to days the upstream left out and drops points outside the window", () => {
    const trend = layoutTrend(
      [
        { day: D - 40, value: 100 },
        { day: D - 2, value: 50 },
        { day: D + 1, value: 100 },
      ],
      30,
      D,
    );
    expect(trend).toHaveLength(30);
    expect(trend.filter((p) => p.value > 0)).toEqual([{ time: dayStart(D - 2), value: 1 }]);
  });

  it("sums daily points into 7-day buckets ending on the as-of day for 120 days, the oldest cut at the window start", () => {
    const curve = Array.from({ length: 120 }, (_, i) => ({ day: D - 119 + i, value: 1 }));
    const trend = layoutTrend(curve, 120, D);
    expect(trend).toHaveLength(18);
    expect(trend[0]).toEqual({ time: dayStart(D - 119), value: 0.14 });
    expect(trend.slice(1).every((p) => p.value === 1)).toBe(true);
    expect(trend.at(-1)!.time).toBe(dayStart(D - 6));
  });

  it("keeps weekly upstream points in their buckets", () => {
    const curve = Array.from({ length: 17 }, (_, i) => ({ day: D - 6 - 7 * i, value: i === 0 ? 100 : 50 }));
    const trend = layoutTrend(curve, 120, D);
    expect(trend.at(-1)!.value).toBe(1);
    expect(trend.slice(1, -1).every((p) => p.value === 0.5)).toBe(true);
  });

  it("gives all zeros for a flat-zero curve", () => {
    expect(layoutTrend([{ day: D, value: 0 }], 7, D).every((p) => p.value === 0)).toBe(true);
  });
});

describe("curvesAsOf", () => {
  it("takes the last day of any curve, or the day before the fetch when no curve has points", () => {
    expect(curvesAsOf([[{ day: D - 1, value: 1 }], [{ day: D, value: 2 }]], 0)).toBe(D);
    expect(curvesAsOf([[], []], dayStart(D) * 1000 + 3_600_000)).toBe(D - 1);
  });

  it("ends weekly points, dated by their bucket's first day, 6 days after the last", () => {
    const weekly = Array.from({ length: 17 }, (_, i) => ({ day: D - 6 - 7 * (16 - i), value: 1 }));
    expect(curvesAsOf([weekly], 0)).toBe(D);
  });
});

describe("parseRetryAfter", () => {
  it("reads delta seconds and HTTP dates, capped at what a timer can wait", () => {
    expect(parseRetryAfter("5")).toBe(5_000);
    expect(parseRetryAfter("Thu, 26 Nov 2026 16:00:30 GMT", Date.parse("2026-11-26T16:00:00Z"))).toBe(30_000);
    expect(parseRetryAfter("9999999999999")).toBe(2 ** 31 - 1);
    expect([parseRetryAfter(null), parseRetryAfter(""), parseRetryAfter("soon")]).toEqual([undefined, undefined, undefined]);
  });
});
