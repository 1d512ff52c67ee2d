import type { Config } from "./config/config.js";
import { openDatabase, type Database } from "./db/database.js";
import { createAccountService, type AccountService } from "./domain/accounts/account-service.js";
import { createBillingService, type BillingService } from "./domain/accounts/billing-service.js";
import { createRateLimits, type RateLimits } from "./domain/accounts/rate-limits.js";
import { createChartService, type ChartService } from "./domain/chart-service.js";
import { createEngineService, type EngineService } from "./domain/engine-service.js";
import { createPublicCharts, type PublicCharts } from "./domain/chart-sources.js";
import { createIngestService, type IngestService } from "./domain/ingest-service.js";
import { createUpstreamChartService, type UpstreamChartService } from "./domain/upstream-charts.js";
import type { CreativeCenterClient } from "./sources/creative-center/client.js";
import { createCollector, type Collector } from "./sources/creative-center/collector.js";
import { createGen1Client } from "./sources/creative-center/gen1-client.js";
import { createGen2Client } from "./sources/creative-center/gen2-client.js";

/** Everything tagpulse is made of, wired once: the CLI and the server share it. */
export interface AppContext {
  readonly config: Config;
  readonly database: Database;
  readonly ingest: IngestService;
  readonly engine: EngineService;
  /** The engine's charts. */
  readonly charts: ChartService;
  /** Charts collected from Creative Center. */
  readonly upstreamCharts: UpstreamChartService;
  /** What the API serves: the configured sources, in priority order. */
  readonly publicCharts: PublicCharts;
  /** The Creative Center connector as configured; one collector keeps its pause after refusals across runs. */
  readonly collector: Collector;
  readonly accounts: AccountService;
  readonly billing: BillingService;
  /** Connects to Redis (when configured) only once the server asks it to. */
  readonly rateLimits: RateLimits;
  close(): Promise<void>;
}

export async function createContext(config: Config, options: { databaseSchema?: string } = {}): Promise<AppContext> {
  const database = await openDatabase(config.databaseUrl, options.databaseSchema ? { schema: options.databaseSchema } : {});
  const rateLimits = createRateLimits({
    perMinute: config.rateLimitPerMinute,
    authFailuresPerMinute: config.authFailuresPerMinute,
    redisUrl: config.redisUrl,
  });
  const charts = createChartService({ database });
  const upstreamCharts = createUpstreamChartService({ database });
  return {
    config,
    database,
    ingest: createIngestService({ database }),
    engine: createEngineService({ database }),
    charts,
    upstreamCharts,
    publicCharts: createPublicCharts({ engine: charts, upstream: upstreamCharts, order: config.chartSources }),
    collector: creativeCenterCollector(config, upstreamCharts),
    accounts: createAccountService({ database }),
    billing: createBillingService({ database }),
    rateLimits,
    async close() {
      await rateLimits.close();
      await database.close();
    },
  };
}

function creativeCenterCollector(config: Config, store: UpstreamChartService): Collector {
  const cc = config.creativeCenter;
  const client: CreativeCenterClient =
    cc.generation === 1
      ? createGen1Client({ baseUrl: cc.baseUrl, headers: cc.gen1Headers ?? {}, timeoutMs: cc.timeoutMs })
      : createGen2Client({ baseUrl: cc.baseUrl, session: cc.session, timeoutMs: cc.timeoutMs });
  return createCollector({
    client,
    store,
    plan: { regions: cc.regions, periods: cc.periods, industries: cc.industries },
    requestsPerSecond: cc.requestsPerSecond,
    retries: cc.retries,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    refusalsBeforeStop: cc.refusalsBeforeStop,
    pauseAfterRefusalsMs: cc.pauseAfterRefusalsMs,
  });
}
