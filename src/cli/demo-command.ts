import type { AppContext } from "../context.js";
import { dayOf, formatDay } from "../lib/days.js";
import { createSimulation } from "../sources/simulator.js";
import { runBuild } from "./build-command.js";
import { formatCount, type Output } from "./output.js";

const DEMO = { seed: 2026, days: 150, videosPerDay: 400 } as const;

/**
 * The fresh-machine path: when the database holds no observations, simulate a demo world straight into
 * it and build the charts; then show the top of the latest worldwide 7-day chart.
 */
export async function runDemo(context: AppContext, output: Output): Promise<void> {
  const { db } = context.database;
  const stored = await db.selectFrom("observations").select("video_id").limit(1).executeTakeFirst();
  if (!stored) {
    const startDay = dayOf(Date.now() / 1000) - DEMO.days;
    output.info(`no data yet: simulating a ${DEMO.days}-day demo world from ${formatDay(startDay)} (seed ${DEMO.seed})`);
    const simulation = createSimulation({ ...DEMO, startDay });
    await context.ingest.ingestCatalog(
      (async function* () {
        let line = 0;
        for (const value of simulation.catalog) yield { line: ++line, value };
      })(),
    );
    const bar = output.progress("simulate", DEMO.days, "days");
    const report = await context.ingest.ingestObservations(
      (async function* () {
        let line = 0;
        for (const value of simulation.observations({ onDay: (p) => bar.update(p.dayIndex) })) yield { line: ++line, value };
      })(),
    );
    bar.update(DEMO.days);
    bar.stop();
    output.info(`stored ${formatCount(report.accepted)} observations (${formatCount(report.duplicate)} duplicates merged)`);
  }
  await runBuild(context, output, { full: false });
  const chart = await context.charts.getChart({ region: "all_regions", period: 7, industry: "nothing", page: 1, limit: 10 });
  output.info(`\nTop hashtags worldwide, 7 days to ${chart.as_of}:`);
  for (const item of chart.list) {
    const move =
      item.rank_diff_type === 4 ? "new" : item.rank_diff_type === 2 ? "=" : `${item.rank_diff_type === 1 ? "+" : "-"}${item.rank_diff}`;
    output.info(
      `${String(item.rank).padStart(3)}. #${item.hashtag_name.padEnd(24)} ${formatCount(item.video_views).padStart(14)} views ` +
        `${formatCount(item.publish_cnt).padStart(8)} posts  ${move.padStart(4)}  top in ${item.country_info.value}`,
    );
  }
  output.info("\nMore: npx tagpulse chart --region US --period 30   (npx tagpulse --help lists every command)");
}
