import type { Period } from "../../domain/chart-model.js";
import type { UpstreamRow } from "../../domain/upstream-charts.js";
import type { CurvePoint } from "./normalize.js";

/** One page of one chart, as a collection run asks for it. */
export interface ChartPageRequest {
  /** A country code, or `all_regions` where the client supports it. */
  readonly region: string;
  readonly period: Period;
  /** `nothing` or a first-level industry id. */
  readonly industry: string;
  /** 1-based. */
  readonly page: number;
  readonly limit: number;
}

/** A fetched row: the public item without its trend, which is laid out once the chart's day is known. */
export type FetchedRow = Omit<UpstreamRow, "trend"> & { readonly curve: readonly CurvePoint[] };

export interface ChartPage {
  readonly rows: readonly FetchedRow[];
  /** Rows in the whole chart, as the upstream counts them. */
  readonly total: number;
  readonly hasMore: boolean;
}

/** A client of one generation of TikTok Creative Center's trending-hashtags data. */
export interface CreativeCenterClient {
  /** Provenance of what it collects, e.g. `creative_center_gen2`. */
  readonly source: string;
  /** Rows per page it asks for. */
  readonly pageSize: number;
  /** Whether it sees only a preview of each chart (the top rows, logged out). */
  readonly preview: boolean;
  /** Whether it can ask for the all-regions chart. */
  readonly allRegions: boolean;
  /** One page; `signal` interrupts it (a run being stopped), which is not counted as an upstream failure. */
  fetchPage(request: ChartPageRequest, signal?: AbortSignal): Promise<ChartPage>;
}
