import { TagpulseError } from "../lib/errors.js";
import type { ChartQuery, ChartRows, ChartService } from "./chart-service.js";
import type { UpstreamChartService } from "./upstream-charts.js";

/** Where public charts come from: tagpulse's own engine, or charts collected from TikTok Creative Center. */
export const CHART_SOURCES = ["engine", "creative_center"] as const;
export type ChartSourceName = (typeof CHART_SOURCES)[number];

/** A chart as served, with its source and, for a collected one, when it was collected. */
export interface ServedChartRows extends ChartRows {
  readonly source: ChartSourceName;
  /** ISO time a collected chart was fetched; null for the engine's. */
  readonly collected_at: string | null;
  /** False for a collected preview: only the top rows of the chart. */
  readonly complete: boolean;
}

export type ChartRequest = Omit<ChartQuery, "page" | "limit" | "newToTop100">;

export interface PublicCharts {
  /** The chart from the first source, in priority order, that has it. */
  getChartRows(query: ChartRequest): Promise<ServedChartRows>;
  /** Changes whenever any source's charts change. */
  version(): Promise<string>;
  /** Readies the engine's creator index (see ChartService.indexCreators), when the engine is a source. */
  indexCreators(): Promise<void>;
}

/**
 * The charts the API serves: each request is answered by the first source, in the operator's order,
 * that has the chart asked for; a source without it (no data yet, no such day) passes to the next, and
 * so does a collected preview when a later source has the whole chart.
 */
export function createPublicCharts(deps: {
  engine: ChartService;
  upstream: UpstreamChartService;
  order: readonly ChartSourceName[];
}): PublicCharts {
  const sources: Record<ChartSourceName, (query: ChartRequest) => Promise<ServedChartRows>> = {
    engine: async (query) => ({ ...(await deps.engine.getChartRows(query)), source: "engine", collected_at: null, complete: true }),
    creative_center: async (query) => {
      const { source: _client, ...chart } = await deps.upstream.getChartRows(query);
      return { ...chart, source: "creative_center" };
    },
  };
  let indexedEngineVersion: string | undefined;
  return {
    async getChartRows(query) {
      const missing: TagpulseError[] = [];
      let preview: ServedChartRows | undefined;
      for (const name of deps.order) {
        try {
          const chart = await sources[name](query);
          if (chart.complete) return chart;
          // A preview is served only when no later source has the whole chart.
          preview ??= chart;
        } catch (error) {
          if (!(error instanceof TagpulseError) || error.code !== "no_data") throw error;
          missing.push(error);
        }
      }
      if (preview) return preview;
      throw new TagpulseError(
        "no_data",
        missing.map((error) => error.message).join("; "),
        missing[0]?.param ? { param: missing[0].param } : {},
      );
    },
    async version() {
      const versions = await Promise.all(deps.order.map((name) => (name === "engine" ? deps.engine.version() : deps.upstream.version())));
      return versions.join("/");
    },
    async indexCreators() {
      if (!deps.order.includes("engine")) return;
      // Collected charts changing leaves the engine's index as it is.
      const version = await deps.engine.version();
      if (version === indexedEngineVersion) return;
      await deps.engine.indexCreators();
      indexedEngineVersion = version;
    },
  };
}
