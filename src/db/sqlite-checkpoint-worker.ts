import { parentPort, workerData } from "node:worker_threads";
import SqliteDatabase from "better-sqlite3";

/** Copies a SQLite file's write-ahead log into the file, on a connection of its own, without waiting for anyone. */
const sqlite = new SqliteDatabase((workerData as { file: string }).file, { fileMustExist: true });
try {
  sqlite.pragma("busy_timeout = 0");
  sqlite.pragma("wal_checkpoint(PASSIVE)");
} finally {
  sqlite.close();
}
parentPort!.postMessage("done");
