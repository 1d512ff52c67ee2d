import fastJson from "fast-json-stringify";
import type { ChartRequest, ChartSourceName, PublicCharts } from "../domain/chart-sources.js";
import { chartItemSchema } from "./schemas.js";

/** A chart ready to page: each row already serialized by the item schema, as UTF-8. */
export interface SerializedChart {
  readonly asOf: string;
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly source: ChartSourceName;
  /** When a collected chart was fetched (ISO), or null. */
  readonly collectedAt: string | null;
  readonly complete: boolean;
  readonly rows: readonly Buffer[];
  /** The rows new to the chart's top 100. */
  readonly newRows: readonly Buffer[];
}

export interface ChartResponses {
  get(query: ChartRequest): Promise<SerializedChart>;
  /**
   * Renders the latest day's chart of every (region, period, industry) given, a few at a time, and
   * again each time a build replaces the charts.
   */
  warm(queries: readonly Omit<ChartRequest, "asOf">[], options?: { concurrency?: number }): Promise<void>;
  /** Whether a warm-up is rendering charts now. */
  readonly warming: boolean;
}

/**
 * Rendered charts, kept while they fit in `maxBytes` (least recently used go first) and dropped
 * whenever a build has written new charts, which is checked at most every `recheckMs`. Concurrent
 * requests for a chart not yet rendered share one rendering.
 */
export function createChartResponses(charts: PublicCharts, options: { maxBytes: number; recheckMs: number }): ChartResponses {
  // The item schema's own serializer: the same one Fastify compiles for a response of that schema.
  const serializeItem = fastJson(chartItemSchema as Parameters<typeof fastJson>[0]);
  const cache = new Map<string, { chart: Promise<SerializedChart>; bytes: number }>();
  let bytes = 0;
  let version: string | undefined;
  let checked = Number.NEGATIVE_INFINITY;
  let creatorsIndexed: Promise<void> | undefined;

  async function fresh(): Promise<void> {
    const now = performance.now();
    if (now - checked < options.recheckMs) return;
    checked = now;
    const current = await charts.version();
    if (current === version) return;
    const replaced = version !== undefined;
    version = current;
    cache.clear();
    bytes = 0;
    // Renders wait for the new creator index: without it, a chart's creators take a query per row.
    creatorsIndexed = charts.indexCreators().catch(() => undefined);
    if (replaced && warmed) void renderAll(warmed);
  }

  async function render(query: ChartRequest): Promise<SerializedChart> {
    await creatorsIndexed;
    const { as_of, window_start, window_end, source, collected_at, complete, rows } = await charts.getChartRows(query);
    // Bytes, encoded once: a serialized string is built piece by piece, and copying it out again on
    // every request would cost more than the rest of the request.
    const serialized = rows.map((row) => ({ json: Buffer.from(serializeItem(row.item)), isNew: row.isNew }));
    return {
      asOf: as_of,
      windowStart: window_start,
      windowEnd: window_end,
      source,
      collectedAt: collected_at,
      complete,
      rows: serialized.map((row) => row.json),
      newRows: serialized.filter((row) => row.isNew).map((row) => row.json),
    };
  }

  async function get(query: ChartRequest): Promise<SerializedChart> {
    await fresh();
    // Which day is the latest may differ between sources: "latest" is a key of its own, dropped with the rest on any change.
    const key = `${query.asOf ?? "latest"}|${query.region}|${query.period}|${query.industry}`;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit.chart;
    }
    const entry = { chart: render(query), bytes: 0 };
    cache.set(key, entry);
    try {
      const chart = await entry.chart;
      if (cache.get(key) === entry) {
        entry.bytes = chart.rows.reduce((sum, row) => sum + row.length, 0);
        bytes += entry.bytes;
        for (const [oldest, old] of cache) {
          if (bytes <= options.maxBytes || oldest === key) break;
          cache.delete(oldest);
          bytes -= old.bytes;
        }
      }
      return chart;
    } catch (error) {
      // Errors (no chart yet, a database failure) are not kept: the next request tries again.
      if (cache.get(key) === entry) cache.delete(key);
      throw error;
    }
  }

  let warming = 0;
  let warmed: { queries: readonly Omit<ChartRequest, "asOf">[]; concurrency: number } | undefined;
  async function renderAll({ queries, concurrency }: NonNullable<typeof warmed>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < queries.length) {
        await get(queries[next++]!).catch(() => undefined);
        // An embedded database answers within the same turn of the event loop: without a pause
        // between charts, requests (and their billing) would wait for the whole warm-up.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    warming++;
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      warming--;
    }
  }

  return {
    get,
    get warming() {
      return warming > 0;
    },
    async warm(queries, { concurrency = 2 } = {}) {
      warmed = { queries, concurrency };
      await renderAll(warmed);
    },
  };
}
