import { Worker } from "node:worker_threads";
import type { Database } from "./database.js";

/**
 * Checkpoints a SQLite file's write-ahead log on another thread: pages an ingest left there are copied
 * into the file while the caller reads, instead of by the next commit, which would wait for them.
 * Resolves when done, or at once without a WAL file (PostgreSQL, or SQLite in memory); never rejects:
 * a checkpoint not taken now is taken later.
 */
export function checkpointInBackground(database: Database): Promise<void> {
  const file = database.sqlite && !database.sqlite.memory ? database.sqlite.name : undefined;
  if (!file) return Promise.resolve();
  return new Promise((resolve) => {
    const worker = new Worker(new URL("./sqlite-checkpoint-worker.js", import.meta.url), { workerData: { file } });
    worker.once("message", () => resolve());
    worker.once("error", () => resolve());
    worker.once("exit", () => resolve());
  });
}
