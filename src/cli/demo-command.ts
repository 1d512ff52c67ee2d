import type { AppContext } from "../context.js";
import { dayOf, formatDay } from "../lib/days.js";
import { createSimulation } from "../sources/simulator.js";
import { formatCount, type Output } from "./output.js";

const DEMO = { seed: 2026, days: 150, videosPerDay: 400 } as const;

/** The fresh-machine path: when the database holds no observations, simulate a demo world straight into it. */
export async function seedDemoIfEmpty(context: AppContext, output: Output): Promise<void> {
  const { db } = context.database;
  const stored = await db.selectFrom("observations").select("video_id").limit(1).executeTakeFirst();
  if (stored) return;
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

export const DEMO_ACCOUNT = "demo";
export const DEMO_CREDITS = 1000;

/** On the first start, an account to try the API with: its key, to print once, or undefined when accounts exist. */
export async function seedDemoAccount(context: AppContext): Promise<string | undefined> {
  if ((await context.accounts.listAccounts()).length > 0) return undefined;
  await context.accounts.createAccount({ name: DEMO_ACCOUNT, credits: DEMO_CREDITS });
  const { secret } = await context.accounts.createKey({ account: DEMO_ACCOUNT, name: "demo" });
  return secret;
}
