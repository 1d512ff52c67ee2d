import { parentPort, workerData } from "node:worker_threads";
import { connectSqlite, type Database } from "../db/database.js";
import { writeBuild, type ChartsWrite, type DaysWrite, type WriteOutcome } from "./build-writes.js";

/**
 * A build's write transaction on a SQLite file, on a connection of its own: first it checkpoints what
 * the last ingest left in the write-ahead log, without waiting for anyone; then, sent the days, it
 * clears what the build replaces and writes them while the build ranks, then the charts, and commits.
 * It tells the build with a WriteOutcome, then checkpoints what it wrote before it ends.
 */
const sqlite = connectSqlite((workerData as { file: string }).file, { fileMustExist: true });
const port = parentPort!;
const messages: unknown[] = [];
let waiting: ((message: unknown) => void) | undefined;
port.on("message", (message: unknown) => {
  const receive = waiting;
  waiting = undefined;
  if (receive) receive(message);
  else messages.push(message);
});
const next = <T>(): Promise<T> =>
  new Promise<T>((resolve) => (messages.length > 0 ? resolve(messages.shift() as T) : (waiting = resolve as never)));

let outcome: WriteOutcome | undefined;
try {
  sqlite.pragma("wal_checkpoint(PASSIVE)");
  // The commit does not copy the build's pages into the file before the build hears of it: this thread
  // does that after telling it.
  sqlite.pragma("wal_autocheckpoint = 0");
  const { generation, days } = await next<{ generation: string; days: DaysWrite }>();
  const database = { sqlite, dialect: "sqlite" } as Database;
  const written = await writeBuild(
    database,
    generation,
    days,
    async () => days,
    async () => (await next<{ charts?: ChartsWrite }>()).charts,
  );
  port.postMessage((outcome = { written }));
  sqlite.pragma("wal_checkpoint(PASSIVE)");
} catch (error) {
  // SQLite's errors carry their code (SQLITE_BUSY, SQLITE_FULL, ...) beside the message.
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (!outcome) port.postMessage({ error: typeof code === "string" ? `${code}: ${message}` : message } satisfies WriteOutcome);
} finally {
  sqlite.close();
}
port.close();
