import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ChartService } from "../domain/chart-service.js";
import { dayStart } from "../lib/days.js";

/** Prometheus metrics of one server: requests and latency by route and status, and the age of the charts. */
export function createMetrics(charts: ChartService) {
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
  return {
    registry,
    observe(method: string, route: string, status: number, seconds: number): void {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
