import { parseDay } from "../lib/days.js";
import { invalidParameter } from "../lib/errors.js";
import { CHART_INDUSTRIES, PERIODS, type Period } from "./chart-model.js";
import type { ChartQuery } from "./chart-service.js";
import { ALL_REGIONS, findRegion } from "./reference-data.js";

/** Chart parameters as they arrive from a query string or a command line: strings, possibly absent. */
export interface ChartParams {
  page?: string | undefined;
  limit?: string | undefined;
  period?: string | undefined;
  region?: string | undefined;
  industry_id?: string | undefined;
  new_to_top_100?: string | undefined;
  as_of?: string | undefined;
}

/**
 * Validates chart parameters by the public contract's rules and returns the query, or throws an
 * `invalid_parameter` error naming the parameter. `limit` above `maxLimit` is clamped, not refused.
 */
export function parseChartParams(params: ChartParams, options: { maxLimit: number; paged: boolean }): ChartQuery {
  const period = Number(params.period ?? "7");
  if (!PERIODS.includes(period as Period) || !/^\d+$/.test(params.period ?? "7")) {
    throw invalidParameter("period", "period must be one of 7, 30, 120");
  }
  const regionText = params.region ?? ALL_REGIONS;
  const region = regionText.toLowerCase() === ALL_REGIONS ? ALL_REGIONS : findRegion(regionText)?.id;
  if (!region)
    throw invalidParameter("region", `region must be all_regions or a supported country code, got ${JSON.stringify(regionText)}`);
  const industry = (params.industry_id ?? "nothing").toLowerCase();
  if (!CHART_INDUSTRIES.includes(industry)) {
    throw invalidParameter(
      "industry_id",
      `industry_id must be nothing or a first-level industry id, got ${JSON.stringify(params.industry_id)}`,
    );
  }
  const flag = (params.new_to_top_100 ?? "false").toLowerCase();
  if (flag !== "true" && flag !== "false") throw invalidParameter("new_to_top_100", "new_to_top_100 must be true or false");
  let asOf: number | undefined;
  if (params.as_of !== undefined) {
    asOf = parseDay(params.as_of);
    if (asOf === undefined) throw invalidParameter("as_of", `as_of must be a date as YYYY-MM-DD, got ${JSON.stringify(params.as_of)}`);
  }
  const query: { -readonly [K in keyof ChartQuery]: ChartQuery[K] } = {
    region,
    period: period as Period,
    industry,
    newToTop100: flag === "true",
  };
  if (asOf !== undefined) query.asOf = asOf;
  if (options.paged || params.page !== undefined || params.limit !== undefined) {
    query.page = positiveInteger("page", params.page ?? "1");
    query.limit = Math.min(positiveInteger("limit", params.limit ?? "20"), options.maxLimit);
  }
  return query;
}

function positiveInteger(param: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw invalidParameter(param, `${param} must be an integer >= 1, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}
