import type { AppContext } from "../context.js";
import type { BuildReport } from "../domain/engine-service.js";
import { formatDay } from "../lib/days.js";
import { formatCount, type Output, type Progress } from "./output.js";

/** Runs a build with a progress bar per stage and prints its summary. */
export async function runBuild(context: AppContext, output: Output, options: { full: boolean }): Promise<BuildReport> {
  let bar: Progress | undefined;
  let stage = "";
  const report = await context.engine.build({
    full: options.full,
    onProgress(progress) {
      if (progress.stage !== stage) {
        bar?.stop();
        stage = progress.stage;
        bar = output.progress(stage, progress.total);
      }
      bar?.update(progress.done, progress.total);
    },
  });
  bar?.stop();
  output.info(describeBuild(report));
  return report;
}

export function describeBuild(report: BuildReport): string {
  if (report.firstDay === null || report.lastDay === null) return "charts: no observations stored yet, nothing to build";
  if (!report.built) return `charts: already up to date (${formatDay(report.firstDay)} to ${formatDay(report.lastDay)})`;
  return (
    `charts: ${report.full ? "rebuilt" : "updated"} ${formatCount(report.days)} day(s) from ${formatDay(report.fromDay!)} ` +
    `to ${formatDay(report.lastDay)}, ${formatCount(report.charts)} charts from ${formatCount(report.observations)} observations ` +
    `in ${report.seconds.toFixed(1)} s` +
    (report.stages
      ? ` (${Object.entries(report.stages)
          .map(([stage, s]) => `${stage} ${s.toFixed(1)} s`)
          .join(", ")})`
      : "")
  );
}
