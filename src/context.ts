import type { Config } from "./config/config.js";
import { openDatabase, type Database } from "./db/database.js";
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
  close(): Promise<void>;
}

export async function createContext(config: Config, options: { databaseSchema?: string } = {}): Promise<AppContext> {
  const database = await openDatabase(config.databaseUrl, options.databaseSchema ? { schema: options.databaseSchema } : {});
  return {
    config,
    database,
    ingest: createIngestService({ database }),
    engine: createEngineService({ database }),
    charts: createChartService({ database }),
    close: () => database.close(),
  };
}
