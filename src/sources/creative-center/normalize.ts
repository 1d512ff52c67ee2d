import { dayOf, dayStart } from "../../lib/days.js";
import type { Period } from "../../domain/chart-model.js";
import type { ChartItem } from "../../domain/chart-service.js";
import { countryName, findIndustry } from "../../domain/reference-data.js";

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
  const start = asOf - period + 1;
  const width = period === 120 ? 7 : 1;
  const buckets: { time: number; amount: number }[] = [];
  for (let last = asOf; last >= start; last -= width) buckets.push({ time: dayStart(Math.max(start, last - width + 1)), amount: 0 });
  buckets.reverse();
  for (const { day, value } of points) {
    if (day < start || day > asOf) continue;
    const fromEnd = Math.floor((asOf - day) / width);
    buckets[buckets.length - 1 - fromEnd]!.amount += value;
  }
  const peak = Math.max(0, ...buckets.map((b) => b.amount));
  return buckets.map((b) => ({ time: b.time, value: peak === 0 ? 0 : Math.round((b.amount / peak) * 100) / 100 }));
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

/** `{id, value, label}` of a country code. */
export function countryInfo(code: string): ChartItem["country_info"] {
  return { id: code, value: countryName(code), label: code };
}

/** `industry_info` of an industry id: the reference's names, or the upstream's empty triple for none or an unknown one. */
export function industryInfo(id: number | undefined): ChartItem["industry_info"] {
  const industry = id === undefined ? undefined : findIndustry(id);
  return industry ? { id: industry.id, value: industry.value, label: industry.label } : { id: "", value: "", label: "" };
}

/** A count sent as a number or as a string of digits (64-bit integers as strings). */
export function count(value: number | string): number {
  return typeof value === "number" ? value : Number(value);
}

/** The day (UTC) of a unix-seconds timestamp sent as a number or a string. */
export function timestampDay(value: number | string): number {
  return dayOf(count(value));
}
