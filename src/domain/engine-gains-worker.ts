import { parentPort, workerData } from "node:worker_threads";
import SqliteDatabase from "better-sqlite3";
import type { Database } from "../db/database.js";
import { fitted, readGainsRange, type GainsRead } from "./engine-gains.js";

/** Reads the gains of a range of videos from a SQLite file, on its own read-only connection. */
const read = workerData as GainsRead;
const sqlite = new SqliteDatabase(read.file, { readonly: true, fileMustExist: true });
sqlite.pragma("cache_size = -65536");
const database = { sqlite, dialect: "sqlite" } as Database;
// Exactly sized: what a transfer moves is each array's whole buffer, grown by doubling.
const gains = fitted(await readGainsRange(database, read.range, { creators: read.creators }));
sqlite.close();
parentPort!.postMessage(gains, [
  gains.videoCountry.buffer,
  gains.videoCreateDay.buffer,
  gains.videoTagStart.buffer,
  gains.videoTags.buffer,
  gains.gainVideo.buffer,
  gains.gainDay.buffer,
  gains.gainViews.buffer,
  ...(gains.videoCreator ? [gains.videoCreator.buffer] : []),
] as ArrayBuffer[]);
