#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ConfigError, loadConfig, parseDuration } from "../config/config.js";
import { createContext, type AppContext } from "../context.js";
import { TagpulseError } from "../lib/errors.js";
import { registerAccountCommands } from "./account-commands.js";
import { runBuild } from "./build-command.js";
import { runChart } from "./chart-command.js";
import { registerFakeUpstreamCommand } from "./fake-upstream-command.js";
import { runCollect } from "./collect-command.js";
import { runServe } from "./serve-command.js";
import { runIngest } from "./ingest-command.js";
import { createOutput } from "./output.js";
import { runSimulate } from "./simulate-command.js";

const program = new Command()
  .name("tagpulse")
  .description("TikTok trending-hashtag charts computed from raw video observations")
  .option("--db <url>", "database: a postgres:// URL or a SQLite file (default: $DATABASE_URL or ./data/tagpulse.db)")
  .showHelpAfterError()
  // Usage errors end like every other refused input, with exit code 2 (help and --version with 0).
  .exitOverride();

function positiveInt(name: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be an integer >= 1`);
    return Number(value);
  };
}

async function withContext<T>(run: (context: AppContext) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, { databaseUrl: program.opts<{ db?: string }>().db });
  const context = await createContext(config);
  try {
    return await run(context);
  } finally {
    await context.close();
  }
}

program
  .command("simulate")
  .description("write a synthetic, deterministic world of video observations and its hashtag catalog")
  .requiredOption("--seed <n>", "random seed", positiveInt("--seed"))
  .requiredOption("--days <n>", "days to simulate", positiveInt("--days"))
  .requiredOption("--videos-per-day <n>", "new videos per day", positiveInt("--videos-per-day"))
  .option("--start <date>", "first day, YYYY-MM-DD (default: so that the last day is yesterday)")
  .requiredOption("--out <file>", "observations file to write (NDJSON), - for stdout")
  .requiredOption("--catalog <file>", "hashtag catalog file to write (JSON)")
  .option("--json", "print the summary as JSON")
  .action(
    async (options: { seed: number; days: number; videosPerDay: number; start?: string; out: string; catalog: string; json?: boolean }) => {
      await runSimulate(createOutput(options), options);
    },
  );

program
  .command("ingest")
  .description("store observations from NDJSON or JSON-array files (- for stdin), then update the charts")
  .argument("<files...>", "observation files")
  .option("--catalog <file>", "hashtag catalog (JSON array or NDJSON) to store first")
  .option("--no-build", "do not update the charts afterwards")
  .addOption(new Option("--batch-size <n>", "observations per transaction").argParser(positiveInt("--batch-size")))
  .option("--json", "print the report as JSON")
  .action(async (files: string[], options: { catalog?: string; build: boolean; batchSize?: number; json?: boolean }) => {
    const code = await withContext((context) => runIngest(context, createOutput(options), files, options));
    process.exitCode = code;
  });

program
  .command("build")
  .description("bring every chart up to date (--full: recompute everything from the stored observations)")
  .option("--full", "rebuild every chart from scratch")
  .option("--json", "print the report as JSON")
  .action(async (options: { full?: boolean; json?: boolean }) => {
    const output = createOutput(options);
    const report = await withContext((context) => runBuild(context, output, { full: options.full === true }));
    output.result(report);
  });

program
  .command("chart")
  .description("print one chart as JSON: {as_of, window_start, window_end, total, list}")
  .option("--region <code>", "all_regions or a supported country code", "all_regions")
  .option("--period <days>", "7, 30 or 120", "7")
  .option("--industry <id>", "nothing or a first-level industry id", "nothing")
  .option("--new-to-top-100", "only hashtags new to this chart's top 100")
  .option("--as-of <date>", "the chart's day, YYYY-MM-DD (default: the latest)")
  .option("--page <n>", "page number (default: all rows)")
  .option("--limit <n>", "rows per page, at most 100")
  .action(
    async (options: {
      region: string;
      period: string;
      industry: string;
      newToTop100?: boolean;
      asOf?: string;
      page?: string;
      limit?: string;
    }) => {
      await withContext((context) =>
        runChart(context, {
          region: options.region,
          period: options.period,
          industry_id: options.industry,
          new_to_top_100: options.newToTop100 ? "true" : "false",
          as_of: options.asOf,
          page: options.page,
          limit: options.limit,
        }),
      );
    },
  );

program
  .command("collect")
  .description("collect every configured chart from TikTok Creative Center once (CC_* settings) and store the snapshots")
  .option("--json", "print the report as JSON")
  .action(async (options: { json?: boolean }) => {
    const interrupt = new AbortController();
    process.once("SIGINT", () => interrupt.abort());
    process.exitCode = await withContext((context) => runCollect(context, createOutput(options), { signal: interrupt.signal }));
  });

registerFakeUpstreamCommand(program);
registerAccountCommands(program, withContext);

for (const [name, description, demo] of [
  ["serve", "bring the charts up to date and serve the HTTP API (PORT, default 8080) until SIGTERM or SIGINT", false],
  ["start", "what npm start runs: serve, after simulating a demo world into an empty database", true],
] as const) {
  program
    .command(name)
    .description(description)
    .addOption(new Option("--port <n>", "port to listen on (default: $PORT or 8080)").argParser(positiveInt("--port")))
    .addOption(
      new Option(
        "--collect-every <duration>",
        "collect from Creative Center this often, e.g. 24h (default: $COLLECT_EVERY, or never)",
      ).argParser((text) => {
        const ms = parseDuration(text);
        if (ms === null) throw new InvalidArgumentError("--collect-every must be a duration up to 24d, such as 24h, 90m or 1d");
        return ms;
      }),
    )
    .action(async (options: { port?: number; collectEvery?: number }) => {
      await withContext((context) =>
        runServe(context, createOutput({}), {
          demo,
          ...(options.port === undefined ? {} : { port: options.port }),
          ...(options.collectEvery === undefined ? {} : { collectEveryMs: options.collectEvery }),
        }),
      );
    });
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof TagpulseError) {
    process.stderr.write(`tagpulse: ${error.message}\n`);
    process.exitCode = error.status < 500 ? 2 : 1;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`tagpulse: ${error.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`tagpulse: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  }
}
