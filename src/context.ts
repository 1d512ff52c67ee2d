import type { Config } from "./config/config.js";
import { openDatabase, type Database } from "./db/database.js";
import { createAccountService, type AccountService } from "./domain/accounts/account-service.js";
import { createBillingService, type BillingService } from "./domain/accounts/billing-service.js";
import { createRateLimits, type RateLimits } from "./domain/accounts/rate-limits.js";
import { createChartService, type ChartService } from "./domain/chart-service.js";
import { createEngineService, type EngineService } from "./domain/engine-service.js";
import { createIngestService, type IngestService } from "./domain/ingest-service.js";

/** Everything tagpulse is made of, wired once: the CLI and the server share it. */
export interface AppContext {
  readonly config: Config;
  readonly database: Database;
  readonly ingest: IngestService;
  readonly engine: EngineService;
  readonly charts: ChartService;
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
  return {
    config,
    database,
    ingest: createIngestService({ database }),
    engine: createEngineService({ database }),
    charts: createChartService({ database }),
    accounts: createAccountService({ database }),
    billing: createBillingService({ database }),
    rateLimits,
    async close() {
      await rateLimits.close();
      await database.close();
    },
  };
}
