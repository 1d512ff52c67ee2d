import fs from "node:fs";
import { once } from "node:events";
import { dayOf, formatDay, parseDay } from "../lib/days.js";
import { invalidParameter } from "../lib/errors.js";
import { createSimulation } from "../sources/simulator.js";
import { formatCount, type Output } from "./output.js";

export interface SimulateCommandOptions {
  readonly seed: number;
  readonly days: number;
  readonly videosPerDay: number;
  readonly start?: string | undefined;
  readonly out: string;
  readonly catalog: string;
}

export interface SimulateSummary {
  readonly observations: number;
  readonly hashtags: number;
  readonly creators: number;
  readonly catalogEntries: number;
  readonly firstDay: string;
  readonly lastDay: string;
  readonly seconds: number;
}

/** Writes a simulated world: observations as NDJSON, streamed, and the hashtag catalog as JSON. */
export async function runSimulate(output: Output, options: SimulateCommandOptions): Promise<SimulateSummary> {
  const started = performance.now();
  let startDay = dayOf(Date.now() / 1000) - options.days;
  if (options.start !== undefined) {
    const parsed = parseDay(options.start);
    if (parsed === undefined) throw invalidParameter("start", `--start must be a date as YYYY-MM-DD, got ${JSON.stringify(options.start)}`);
    startDay = parsed;
  }
  const simulation = createSimulation({ seed: options.seed, days: options.days, videosPerDay: options.videosPerDay, startDay });
  fs.writeFileSync(options.catalog, `${JSON.stringify(simulation.catalog, null, 1)}\n`);

  const out = options.out === "-" ? process.stdout : fs.createWriteStream(options.out);
  const bar = output.progress("simulate", options.days, "days");
  let count = 0;
  let buffer: string[] = [];
  for (const record of simulation.observations({ onDay: (p) => bar.update(p.dayIndex) })) {
    buffer.push(JSON.stringify(record));
    count++;
    if (buffer.length === 2000) {
      if (!out.write(`${buffer.join("\n")}\n`)) await once(out, "drain");
      buffer = [];
    }
  }
  if (buffer.length > 0) out.write(`${buffer.join("\n")}\n`);
  bar.update(options.days);
  bar.stop();
  if (out !== process.stdout) {
    out.end();
    await once(out, "finish");
  }
  const summary: SimulateSummary = {
    observations: count,
    hashtags: simulation.hashtagCount,
    creators: simulation.creatorCount,
    catalogEntries: simulation.catalog.length,
    firstDay: formatDay(startDay),
    lastDay: formatDay(startDay + options.days - 1),
    seconds: (performance.now() - started) / 1000,
  };
  const info = options.out === "-" ? () => {} : output.info;
  info(
    `simulated ${formatCount(count)} observations from ${summary.firstDay} to ${summary.lastDay}: ` +
      `${formatCount(summary.hashtags)} hashtags, ${formatCount(summary.creators)} creators, ` +
      `${formatCount(summary.catalogEntries)} catalog entries, in ${summary.seconds.toFixed(1)} s`,
  );
  if (options.out !== "-") output.result(summary);
  return summary;
}
