import type { UpstreamChartService } from "../../domain/upstream-charts.js";
import type { CollectionReport, Collector } from "./collector.js";

export interface CollectionSchedule {
  /** Stops the schedule, interrupting a run in progress, and waits for it to end. */
  stop(): Promise<void>;
}

/**
 * Runs a collection every `everyMs`, counted from the newest stored snapshot, so that a restart does
 * not sweep again early. Runs never overlap, and wait on the network, not on the event loop: requests
 * are served meanwhile.
 */
export function startCollectionSchedule(deps: {
  collector: Collector;
  store: UpstreamChartService;
  everyMs: number;
  onReport: (report: CollectionReport) => void;
  onError: (error: unknown) => void;
  now?: () => number;
}): CollectionSchedule {
  const now = deps.now ?? Date.now;
  const interrupt = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const schedule = (delayMs: number) => {
    if (interrupt.signal.aborted) return;
    timer = setTimeout(() => {
      running = deps.collector
        .run({ signal: interrupt.signal })
        .then(deps.onReport, deps.onError)
        .finally(() => {
          running = undefined;
          schedule(deps.everyMs);
        });
    }, delayMs);
  };

  void deps.store.lastFetchedAt().then(
    (last) => schedule(last === null ? 0 : Math.max(0, last + deps.everyMs - now())),
    (error: unknown) => {
      deps.onError(error);
      schedule(0);
    },
  );

  return {
    async stop() {
      interrupt.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
