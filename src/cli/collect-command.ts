import type { AppContext } from "../context.js";
import type { CollectionReport } from "../sources/creative-center/collector.js";
import { formatCount, type Output } from "./output.js";

/** One collection run from Creative Center with a progress bar, then its report. Exit code 1 when the run stopped early or stored nothing. */
export async function runCollect(context: AppContext, output: Output, options: { signal?: AbortSignal } = {}): Promise<number> {
  const cc = context.config.creativeCenter;
  output.info(
    `collecting from Creative Center generation ${cc.generation}${cc.generation === 2 && !cc.session ? " (logged out: previews of 3 rows)" : ""} at ${cc.baseUrl}`,
  );
  let bar: ReturnType<Output["progress"]> | undefined;
  const report = await context.collector.run({
    ...(options.signal ? { signal: options.signal } : {}),
    onChart(done, planned) {
      bar ??= output.progress("charts", planned);
      bar.update(done);
    },
  });
  bar?.stop();
  output.info(describeCollection(report));
  for (const failure of report.failures.slice(0, 20)) output.info(`  failed: ${failure.chart}: ${failure.reason}`);
  for (const warning of report.warnings) output.info(`  warning: ${warning}`);
  if (report.charts.failed > 20) output.info(`  ... and ${formatCount(report.charts.failed - 20)} more failures (--json lists up to 100)`);
  output.result(report);
  const tried = report.charts.planned - report.charts.skipped - report.charts.unsupported;
  const storedNothing = report.charts.stored + report.charts.previews + report.charts.keptFuller === 0 && tried > 0;
  return storedNothing || report.stopped !== null ? 1 : 0;
}

export function describeCollection(report: CollectionReport): string {
  const c = report.charts;
  const seconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  return (
    `collected ${formatCount(c.stored)} of ${formatCount(c.planned)} charts complete, ${formatCount(c.previews)} as previews, ` +
    `${formatCount(c.keptFuller)} kept (a fuller one was stored), ${formatCount(c.failed)} failed, ${formatCount(c.skipped)} skipped` +
    (c.unsupported > 0 ? `, ${formatCount(c.unsupported)} all-regions charts not offered by this generation; ` : "; ") +
    `${formatCount(report.rows)} rows from ${formatCount(report.requests)} requests (${formatCount(report.retries)} retries) in ${seconds.toFixed(1)} s` +
    (report.stopped ? `\n  ${report.stopped}` : "")
  );
}
