import type { AppContext } from "../context.js";
import { buildServer, everyLatestChart } from "../http/server.js";
import { startCollectionSchedule, type CollectionSchedule } from "../sources/creative-center/collection-schedule.js";
import { describeCollection } from "./collect-command.js";
import { runBuild } from "./build-command.js";
import { DEMO_ACCOUNT, DEMO_CREDITS, seedDemoAccount, seedDemoIfEmpty } from "./demo-command.js";
import type { Output } from "./output.js";

/**
 * Brings the charts up to date, then serves the API until SIGTERM or SIGINT, after which it finishes
 * the requests in flight and returns. With `demo`, an empty database first gets a simulated world.
 */
export async function runServe(
  context: AppContext,
  output: Output,
  options: { demo: boolean; port?: number; collectEveryMs?: number },
): Promise<void> {
  if (options.demo) await seedDemoIfEmpty(context, output);
  const demoKey = options.demo ? await seedDemoAccount(context) : undefined;
  await runBuild(context, output, { full: false });
  const { app, charts, metrics } = await buildServer(context);
  const port = options.port ?? context.config.port;
  await app.listen({ port, host: context.config.host });
  const base = `http://localhost:${port}`;
  output.info(`\ntagpulse is serving ${base}`);
  output.info(`  docs:    ${base}/docs`);
  if (demoKey) {
    output.info(`  demo account "${DEMO_ACCOUNT}" with ${DEMO_CREDITS} credits; its API key, shown this once:\n\n    ${demoKey}\n`);
    output.info(
      `  try it:  curl -H 'Authorization: Bearer ${demoKey}' '${base}/v1/tiktok/trending/hashtags?period=7&region=all_regions'\n`,
    );
  } else {
    output.info(`  keys:    tagpulse keys create --account <name>   (accounts: tagpulse accounts list)\n`);
  }
  // Render the latest charts ahead of their first request, without holding up the ones that come meanwhile.
  const started = performance.now();
  void charts
    .warm(everyLatestChart())
    .then(() => app.log.info({ seconds: Math.round((performance.now() - started) / 100) / 10 }, "latest charts rendered"));
  const collectEveryMs = options.collectEveryMs ?? context.config.collectEveryMs;
  let collection: CollectionSchedule | undefined;
  if (collectEveryMs !== undefined) {
    output.info(
      `  collecting from Creative Center every ${Math.round(collectEveryMs / 60_000)} min (${context.config.creativeCenter.baseUrl})`,
    );
    collection = startCollectionSchedule({
      collector: context.collector,
      store: context.upstreamCharts,
      everyMs: collectEveryMs,
      onReport: (report) => {
        metrics.observeCollection(report);
        const level = report.stopped !== null || report.charts.failed > 0 ? "warn" : "info";
        app.log[level]({ report: { ...report, failures: report.failures.slice(0, 10) } }, describeCollection(report));
      },
      onError: (error) => app.log.error({ err: error }, "collection failed"),
    });
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      app.log.info({ signal }, "shutting down: finishing requests in flight");
      void Promise.all([collection?.stop(), app.close()]).then(() => resolve(), resolve);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
