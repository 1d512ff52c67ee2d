import { dayOf } from "../../lib/days.js";
import type { Period } from "../../domain/chart-model.js";
import { trend, type ChartItem } from "../../domain/chart-service.js";

/** One point of an upstream popularity curve: a day and a value on any scale. */
export interface CurvePoint {
  readonly day: number;
  readonly value: number;
}

/** Rows a logged-out query gets: an answer this short may be a silently truncated one. */
export const PREVIEW_ROWS = 3;

/**
 * An upstream curve laid out as tagpulse's trend: daily points over the window for 7 and 30 days,
 * 7-day buckets ending on the as-of day for 120, each point the sum of the upstream values it covers,
 * scaled so the peak is 1 (2 decimals). The upstream's own scale (0-100 or 0-1) does not matter.
 */
export function layoutTrend(points: readonly CurvePoint[], period: Period, asOf: number): ChartItem["trend"] {
  return trend(
    points.map((point) => ({ day: point.day, views: point.value })),
    period,
    asOf - period + 1,
    asOf,
  );
}

/**
 * The chart's as-of day: where its curves end, or the day before `fetchedAt` when none has points. A
 * point stands for the days up to the next one, so weekly points (dated by their bucket's first day)
 * end 6 days after the last.
 */
export function curvesAsOf(curves: readonly (readonly CurvePoint[])[], fetchedAt: number): number {
  let last = -Infinity;
  for (const curve of curves) {
    const end = curve.at(-1);
    if (!end) continue;
    const before = curve.at(-2);
    last = Math.max(last, end.day + (before && end.day > before.day ? end.day - before.day - 1 : 0));
  }
  return Number.isFinite(last) ? last : dayOf(fetchedAt / 1000) - 1;
}

/** A count sent as a number or as a string of digits (64-bit integers as strings). */
export function count(value: number | string): number {
  return typeof value === "number" ? value : Number(value);
}

/** The day (UTC) of a unix-seconds timestamp sent as a number or a string. */
export function timestampDay(value: number | string): number {
  return dayOf(count(value));
}
