import { parentPort, workerData } from "node:worker_threads";
import { transferList } from "../domain/ingest/observation-batch.js";
import { readObservationBatches, type WorkerInput, type WorkerMessage, type WriterMessage } from "./record-file.js";

/** Batches sent but not yet taken by the writer: enough to keep it busy, few enough to bound memory. */
const MAX_AHEAD = 2;

/**
 * The reading thread of `readRecords(...).observationBatches()`: reads, parses and validates a file
 * into batches and transfers them, while the calling thread stores the previous ones.
 */
async function run(port: NonNullable<typeof parentPort>, { file, batchSize }: WorkerInput): Promise<void> {
  let ahead = 0;
  // The writer has taken every batch sent and waits for the next: the one being read is cut short.
  let waiting = false;
  let wake: (() => void) | undefined;
  port.on("message", (message: WriterMessage) => {
    if (message === "waiting") waiting = true;
    else {
      ahead--;
      waiting = false;
    }
    wake?.();
    wake = undefined;
  });

  let bytes = 0;
  try {
    const batches = readObservationBatches(
      file,
      batchSize,
      (total) => (bytes = total),
      () => waiting && ahead === 0,
    );
    for await (const batch of batches) {
      waiting = false;
      post({ batch, bytes }, transferList(batch));
      ahead++;
      while (ahead >= MAX_AHEAD) await new Promise<void>((resolve) => (wake = resolve));
    }
    post({ done: true });
  } catch (error) {
    post({ error: error instanceof Error ? error.message : String(error) });
  }

  function post(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
    port.postMessage(message, transfer);
  }
}

if (parentPort) await run(parentPort, workerData as WorkerInput);
