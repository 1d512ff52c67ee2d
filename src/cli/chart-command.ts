import type { AppContext } from "../context.js";
import { parseChartParams, type ChartParams } from "../domain/chart-query.js";

/** Prints one chart as JSON: `{as_of, window_start, window_end, total, list}`, rows as the API returns them. */
export async function runChart(context: AppContext, params: ChartParams): Promise<void> {
  const query = parseChartParams(params, { maxLimit: 100, paged: false });
  const chart = await context.charts.getChart(query);
  process.stdout.write(`${JSON.stringify(chart, null, 2)}\n`);
}
