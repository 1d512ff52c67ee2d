import fs from "node:fs";
import type { AppContext } from "../context.js";
import type { IngestReport } from "../domain/ingest-service.js";
import { TagpulseError } from "../lib/errors.js";
import { readRecords } from "../sources/record-file.js";
import { runBuild } from "./build-command.js";
import { formatCount, type Output } from "./output.js";

export interface IngestCommandOptions {
  readonly catalog?: string;
  readonly build: boolean;
  readonly batchSize?: number;
}

/**
 * Ingests the catalog, then each file in turn, then brings the charts up to date. Ctrl-C stops after
 * the batch being stored: everything reported is committed, and rerunning the same files is safe.
 */
export async function runIngest(context: AppContext, output: Output, files: string[], options: IngestCommandOptions): Promise<number> {
  for (const file of [...(options.catalog ? [options.catalog] : []), ...files]) {
    if (file !== "-" && !fs.existsSync(file)) throw new TagpulseError("invalid_input", `${file}: no such file`);
  }
  const result: { catalog?: unknown; files: Record<string, IngestReport>; build?: unknown } = { files: {} };
  if (options.catalog) {
    const report = await context.ingest.ingestCatalog(readRecords(options.catalog));
    result.catalog = report;
    output.info(`${options.catalog}: ${formatCount(report.stored)} catalog entries stored, ${formatCount(report.rejected)} rejected`);
    for (const error of report.errors) output.info(`  line ${error.line}: ${error.reason}`);
  }

  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (const file of files) {
      const size = file === "-" ? 0 : fs.statSync(file).size;
      const bar = output.progress(file === "-" ? "stdin" : "ingest", size || 1, "bytes");
      const report = await context.ingest.ingestObservations(readRecords(file, { onBytes: (bytes) => bar.update(size ? bytes : 0) }), {
        signal: abort.signal,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      });
      bar.stop();
      result.files[file] = report;
      printReport(output, file, report);
      if (!report.complete) {
        output.info("interrupted: everything counted above is stored; run the same command again to finish");
        output.result(result);
        return 130;
      }
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (options.build) result.build = await runBuild(context, output, { full: false });
  output.result(result);
  return 0;
}

function printReport(output: Output, file: string, report: IngestReport): void {
  output.info(
    `${file}: read ${formatCount(report.read)}, accepted ${formatCount(report.accepted)}, ` +
      `duplicate ${formatCount(report.duplicate)}, rejected ${formatCount(report.rejected)}`,
  );
  for (const [reason, count] of Object.entries(report.rejectedByReason).sort((a, b) => b[1] - a[1])) {
    output.info(`  rejected ${formatCount(count)}: ${reason}`);
  }
  for (const error of report.errors) output.info(`  line ${error.line}: ${error.reason}`);
  if (report.rejected > report.errors.length) output.info(`  (first ${report.errors.length} rejected lines listed)`);
}
