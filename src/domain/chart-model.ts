import { ALL_REGIONS, INDUSTRIES, NO_INDUSTRY, REGIONS } from "./reference-data.js";

/** Chart periods, in days. */
export const PERIODS = [7, 30, 120] as const;
export type Period = (typeof PERIODS)[number];

/** A chart holds at most this many hashtags. */
export const CHART_SIZE = 100;

/** Chart regions: every supported country, then `all_regions`. */
export const CHART_REGIONS: readonly string[] = [...REGIONS.map((r) => r.id), ALL_REGIONS];

/** Chart industries: `nothing` (no filter), then every first-level industry id. */
export const CHART_INDUSTRIES: readonly string[] = [NO_INDUSTRY, ...INDUSTRIES.map((i) => String(i.id))];

/** The stored form of one chart row: tag, its rank on the previous day (0 when absent), new-to-top-100. */
export type ChartEntry = [tag: number, previousRank: number, isNew: 0 | 1];

/** First day of the P-day window ending on `day`, clipped to the data's first day. */
export function windowStart(day: number, period: number, firstDay: number): number {
  return Math.max(day - period + 1, firstDay);
}

/** Chart series per chart region: a period and an industry. */
export const SERIES_PER_SLOT = PERIODS.length * CHART_INDUSTRIES.length;
/** Chart series in all: a chart region, a period and an industry. */
export const SERIES_COUNT = CHART_REGIONS.length * SERIES_PER_SLOT;

/** A series' index: chart region slot, then period, then industry. */
export function seriesIndex(slot: number, periodIndex: number, industryIndex: number): number {
  return slot * SERIES_PER_SLOT + periodIndex * CHART_INDUSTRIES.length + industryIndex;
}

export function seriesKey(series: number): { region: string; period: number; industry: string } {
  const slot = Math.floor(series / SERIES_PER_SLOT);
  const rest = series % SERIES_PER_SLOT;
  return {
    region: CHART_REGIONS[slot]!,
    period: PERIODS[Math.floor(rest / CHART_INDUSTRIES.length)]!,
    industry: CHART_INDUSTRIES[rest % CHART_INDUSTRIES.length]!,
  };
}
