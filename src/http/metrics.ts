import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ChartService } from "../domain/chart-service.js";
import type { UpstreamChartService } from "../domain/upstream-charts.js";
import type { CollectionReport } from "../sources/creative-center/collector.js";
import { dayStart } from "../lib/days.js";

/**
 * Prometheus metrics of one server: requests and latency by route and status, the age of the charts
 * (the engine's and the collected ones), and what this server's collection runs did.
 */
export function createMetrics(charts: ChartService, collected: UpstreamChartService) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tagpulse_" });
  const labelNames = ["method", "route", "status"] as const;
  const requests = new Counter({
    name: "tagpulse_http_requests_total",
    help: "HTTP requests answered.",
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "tagpulse_http_request_duration_seconds",
    help: "Time from receiving a request to sending its response.",
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: "tagpulse_chart_age_seconds",
    help: "Seconds since the start (00:00 UTC) of the latest chart day; absent before the first build.",
    registers: [registry],
    async collect() {
      const days = await charts.chartDays().catch(() => null);
      if (days) this.set(Date.now() / 1000 - dayStart(days.last));
    },
  });
  new Gauge({
    name: "tagpulse_collected_chart_age_seconds",
    help: "Seconds since the newest chart collected from Creative Center was fetched; absent before the first.",
    registers: [registry],
    async collect() {
      const last = await collected.lastFetchedAt().catch(() => null);
      if (last !== null) this.set((Date.now() - last) / 1000);
    },
  });
  const collectionRuns = new Counter({
    name: "tagpulse_collection_runs_total",
    help: "Collection runs of this server, by whether they went to the end or stopped early.",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  const collectionCharts = new Counter({
    name: "tagpulse_collection_charts_total",
    help: "Charts of this server's collection runs, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const collectionRequests = new Counter({
    name: "tagpulse_collection_requests_total",
    help: "Requests this server's collection runs sent to Creative Center, retries included.",
    registers: [registry],
  });
  return {
    registry,
    observeCollection(report: CollectionReport): void {
      collectionRuns.inc({ result: report.stopped === null ? "complete" : "stopped" });
      const { planned: _planned, ...outcomes } = report.charts;
      for (const [outcome, count] of Object.entries(outcomes)) collectionCharts.inc({ outcome }, count);
      collectionRequests.inc(report.requests);
    },
    observe(method: string, route: string, status: number, seconds: number): void {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
