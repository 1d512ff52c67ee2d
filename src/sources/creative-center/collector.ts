import { setTimeout as delay } from "node:timers/promises";
import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen } from "cockatiel";
import { CHART_SIZE, type Period } from "../../domain/chart-model.js";
import { dayOf, formatDay } from "../../lib/days.js";
import { ALL_REGIONS } from "../../domain/reference-data.js";
import type { StoreOutcome, UpstreamChartService, UpstreamRow } from "../../domain/upstream-charts.js";
import type { ChartPage, ChartPageRequest, CreativeCenterClient, FetchedRow } from "./client.js";
import { curvesAsOf, layoutTrend, PREVIEW_ROWS } from "./normalize.js";
import { UpstreamError } from "./upstream-error.js";

/** Which charts a run collects. */
export interface SweepPlan {
  readonly regions: readonly string[];
  readonly periods: readonly Period[];
  readonly industries: readonly string[];
}

export interface CollectorOptions {
  readonly client: CreativeCenterClient;
  readonly store: UpstreamChartService;
  readonly plan: SweepPlan;
  /** Requests per second on average; each pause is drawn within ±50% of the interval. */
  readonly requestsPerSecond: number;
  /** Further tries of a failed request, each after a pause. */
  readonly retries: number;
  /** First pause of the exponential backoff, in ms (doubled on each try, up to `maxDelayMs`). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Refusals in a row (403, 429, expired login) after which the run stops. */
  readonly refusalsBeforeStop: number;
  /** How long the collector stays stopped after that, in ms: later runs stop at once until then. */
  readonly pauseAfterRefusalsMs: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface ChartFailure {
  /** `US 7d industry nothing`. */
  readonly chart: string;
  readonly reason: string;
}

/** What one run did. */
export interface CollectionReport {
  readonly source: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly charts: {
    readonly planned: number;
    /** Stored as complete charts. */
    readonly stored: number;
    /** Stored as previews (a few top rows only). */
    readonly previews: number;
    /** Fetched, but the store holds a fuller chart of that day: kept. */
    readonly keptFuller: number;
    readonly failed: number;
    /** Not tried: the run stopped first. */
    readonly skipped: number;
    /** Not tried: the client cannot ask for them (generation 2 has no all-regions chart). */
    readonly unsupported: number;
  };
  readonly rows: number;
  readonly requests: number;
  readonly retries: number;
  /** Failures, first ones first (at most 100 listed). */
  readonly failures: readonly ChartFailure[];
  /** Why the run stopped before the end, or null. */
  readonly stopped: string | null;
  /** What went wrong besides the charts: the collector's state not saved, readers not told. */
  readonly warnings: readonly string[];
}

export interface Collector {
  /** One sweep of the plan. Never throws for what the upstream does: the report says it. */
  run(options?: { signal?: AbortSignal; onChart?: (done: number, planned: number) => void }): Promise<CollectionReport>;
}

const MAX_LISTED_FAILURES = 100;
/** A Retry-After longer than this stops the run instead: collecting resumes after it. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Store failures in a row that stop a run. */
const MAX_STORE_FAILURES = 3;

/** Why a run ends early: the reason goes into its report. */
class StopRun extends Error {}

/** A chart fetched but not stored: the database refused it. */
class StoreFailed extends Error {}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Whether a saved breaker state has the shape the breaker restores (a state of another version starts afresh). */
function isBreakerState(value: unknown): value is { ownState: { value: number }; breakerState: number } {
  const state = value as { ownState?: { value?: unknown }; breakerState?: unknown } | null | undefined;
  return typeof state?.breakerState === "number" && [0, 1, 2, 3].includes(state.ownState?.value as number);
}

function stopReason(pause: { until: number; reason: string }): string {
  return `stopped: ${pause.reason}; collecting resumes after ${new Date(pause.until).toISOString()}`;
}

/**
 * Collects charts from Creative Center: pages through each chart of the plan at a polite, jittered
 * pace, retries transient failures and refusals with exponential backoff (honouring Retry-After),
 * validates and normalizes every row, and stores one snapshot per chart. Refusals in a row open a
 * circuit breaker, kept in the database: the run stops, and so does every run of any process until
 * the pause is over.
 */
export function createCollector(options: CollectorOptions): Collector {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const { client, store } = options;
  let nextRequestAt = 0;

  /** Waits for this request's turn: the average rate, each interval drawn within ±50%. */
  async function pace(signal: AbortSignal | undefined): Promise<void> {
    const wait = nextRequestAt - now();
    const interval = 1000 / options.requestsPerSecond;
    nextRequestAt = Math.max(now(), nextRequestAt) + interval * (0.5 + random());
    if (wait > 0) await delay(wait, undefined, signal ? { signal } : {});
  }

  /** The pause before retry `attempt` (1-based): exponential, each drawn in its upper half so that collectors do not retry in step. */
  const backoff = (attempt: number) => {
    const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + (random() * ceiling) / 2;
  };

  return {
    async run({ signal, onChart } = {}) {
      const startedAt = now();
      const counts = { stored: 0, previews: 0, keptFuller: 0, failed: 0, skipped: 0, unsupported: 0 };
      const failures: ChartFailure[] = [];
      const warnings: string[] = [];
      let rows = 0;
      let requests = 0;
      let retries = 0;
      let stopped: string | null = null;
      const charts = options.plan.regions.flatMap((region) =>
        options.plan.periods.flatMap((period) => options.plan.industries.map((industry) => ({ region, period, industry }))),
      );
      const fail = (chart: string, reason: string) => {
        counts.failed++;
        if (failures.length < MAX_LISTED_FAILURES) failures.push({ chart, reason });
      };

      // The breaker's state outlives the run and the process: a pause after refusals holds for every run.
      const saved = await store.collectorState();
      let pause = saved?.pause ?? null;
      const breaker = circuitBreaker(
        handleWhen((error) => error instanceof UpstreamError && error.refusal),
        {
          halfOpenAfter: options.pauseAfterRefusalsMs,
          breaker: new ConsecutiveBreaker(options.refusalsBeforeStop),
          ...(isBreakerState(saved?.breaker) ? { initialState: saved.breaker } : {}),
        },
      );
      /** Pauses collecting from `from` for `ms`, for every process at once, and ends the run. */
      const pauseFor = async (ms: number, reason: string, from = now()) => {
        pause = { until: from + ms, reason };
        await store.saveCollectorState({ breaker: breaker.toJSON(), pause }, now());
        return new StopRun(stopReason(pause));
      };
      let storeFailures = 0;

      /** One page, retried after a pause while the failure is worth it and the breaker closed. */
      async function fetchPage(request: ChartPageRequest): Promise<ChartPage> {
        for (let attempt = 0; ; attempt++) {
          await pace(signal);
          try {
            const page = await breaker.execute(({ signal: breakerSignal }) => {
              requests++;
              return client.fetchPage(request, breakerSignal);
            }, signal);
            if (pause !== null && pause.until <= now()) pause = null; // the upstream answers again
            return page;
          } catch (error) {
            if (error instanceof BrokenCircuitError) {
              // Still open from an earlier run: it resumes when the breaker itself half-opens.
              const { ownState } = breaker.toJSON() as { ownState: { openedAt?: number } };
              throw await pauseFor(options.pauseAfterRefusalsMs, pause?.reason ?? "refusals in a row", ownState.openedAt ?? now());
            }
            if (!(error instanceof UpstreamError)) throw error;
            if (breaker.state !== CircuitState.Closed) {
              throw await pauseFor(
                options.pauseAfterRefusalsMs,
                `${options.refusalsBeforeStop} refusals in a row, the last: ${error.message}`,
              );
            }
            if (error.retryAfterMs !== undefined && error.retryAfterMs > MAX_RETRY_AFTER_MS) {
              throw await pauseFor(
                error.retryAfterMs,
                `the upstream asked to wait ${Math.round(error.retryAfterMs / 60_000)} min (${error.message})`,
              );
            }
            // A Retry-After holds every later request too, not only this one's retry.
            if (error.retryAfterMs !== undefined) nextRequestAt = Math.max(nextRequestAt, now() + error.retryAfterMs);
            if (!error.retryable || attempt >= options.retries) throw error;
            retries++;
            nextRequestAt = Math.max(nextRequestAt, now() + backoff(attempt + 1));
          }
        }
      }

      /** One chart: its pages, validated and normalized, offered to the store. */
      async function collect(chart: { region: string; period: Period; industry: string }): Promise<void> {
        const fetched: FetchedRow[] = [];
        let total = 0;
        const pages = client.preview ? 1 : Math.ceil(CHART_SIZE / client.pageSize);
        for (let page = 1; page <= pages; page++) {
          const answer = await fetchPage({ ...chart, page, limit: client.pageSize });
          fetched.push(...answer.rows);
          total = Math.max(total, answer.total);
          if (!answer.hasMore || answer.rows.length === 0 || fetched.length >= CHART_SIZE) break;
        }
        const fetchedAt = now();
        const snapshot = toSnapshot(fetched.slice(0, CHART_SIZE), chart.period, fetchedAt);
        // Fewer rows than the upstream counts, or a logged-in answer as short as a logged-out one, is a preview.
        const complete = !client.preview && snapshot.rows.length > PREVIEW_ROWS && snapshot.rows.length >= Math.min(total, CHART_SIZE);
        let outcome: StoreOutcome;
        try {
          outcome = await store.store({ ...chart, ...snapshot, source: client.source, fetchedAt, complete });
          storeFailures = 0;
        } catch (error) {
          // Fetching on while nothing can be stored would only spend the upstream's patience.
          if (++storeFailures >= MAX_STORE_FAILURES) {
            throw new StopRun(`stopped: ${MAX_STORE_FAILURES} charts in a row could not be stored (${errorMessage(error)})`);
          }
          throw new StoreFailed(errorMessage(error));
        }
        if (outcome === "kept_fuller") {
          counts.keptFuller++;
          return;
        }
        if (complete) counts.stored++;
        else counts.previews++;
        rows += snapshot.rows.length;
      }

      try {
        let done = 0;
        for (const chart of charts) {
          const name = `${chart.region} ${chart.period}d industry ${chart.industry}`;
          if (stopped === null && signal?.aborted) stopped = "interrupted";
          if (stopped === null && pause !== null && pause.until > now()) stopped = stopReason(pause);
          if (chart.region === ALL_REGIONS && !client.allRegions) counts.unsupported++;
          else if (stopped !== null) counts.skipped++;
          else {
            try {
              await collect(chart);
            } catch (error) {
              if (error instanceof StopRun) {
                stopped = error.message;
                counts.skipped++;
              } else if (signal?.aborted) {
                stopped = "interrupted";
                counts.skipped++;
              } else if (error instanceof UpstreamError) {
                fail(name, error.message);
              } else if (error instanceof StoreFailed) {
                fail(name, `not stored: ${error.message}`);
              } else {
                throw error;
              }
            }
          }
          onChart?.(++done, charts.length);
        }
      } finally {
        // Bookkeeping failing must not lose the report, nor hide what was stored.
        try {
          // Readers drop their cached charts once per run, not once per chart.
          if (counts.stored + counts.previews > 0) await store.publish();
        } catch (error) {
          warnings.push(`stored charts may reach readers late: ${errorMessage(error)}`);
        }
        try {
          await store.saveCollectorState({ breaker: breaker.toJSON(), pause }, now());
        } catch (error) {
          warnings.push(`the collector's state was not saved: ${errorMessage(error)}`);
        }
      }
      return {
        source: client.source,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(now()).toISOString(),
        charts: { planned: charts.length, ...counts },
        rows,
        requests,
        retries,
        failures,
        stopped,
        warnings,
      };
    },
  };
}

/** The fetched rows as a snapshot's rows and day, or an UpstreamError when they do not form a chart. */
function toSnapshot(fetched: readonly FetchedRow[], period: Period, fetchedAt: number): { day: number; rows: UpstreamRow[] } {
  if (fetched.length === 0) throw new UpstreamError("empty", "the upstream answered an empty chart: stored nothing");
  const fetchDay = dayOf(fetchedAt / 1000);
  const names = new Set<string>();
  fetched.forEach((row, i) => {
    if (row.rank !== i + 1) throw new UpstreamError("invalid_row", `row ${i + 1} has rank ${row.rank}: ranks must run 1, 2, 3, ...`);
    if (names.has(row.hashtag_name)) throw new UpstreamError("invalid_row", `hashtag ${row.hashtag_name} appears twice`);
    names.add(row.hashtag_name);
    // A curve ending after the day it was fetched would date the chart in the future, hiding every later one.
    const late = row.curve.find((point) => point.day > fetchDay);
    if (late) {
      throw new UpstreamError("invalid_row", `row ${i + 1}: its curve has a point on ${formatDay(late.day)}, after the day it was fetched`);
    }
  });
  const day = curvesAsOf(
    fetched.map((row) => row.curve),
    fetchedAt,
  );
  if (day > fetchDay) throw new UpstreamError("invalid_row", `the curves end on ${formatDay(day)}, after the day the chart was fetched`);
  return {
    day,
    rows: fetched.map(({ curve, creators, publish_cnt, video_views, rank, rank_diff, rank_diff_type, ...head }) => ({
      ...head,
      trend: layoutTrend(curve, period, day),
      creators,
      publish_cnt,
      video_views,
      rank,
      ...(rank_diff_type === undefined ? {} : { rank_diff: rank_diff ?? null, rank_diff_type }),
    })),
  };
}
