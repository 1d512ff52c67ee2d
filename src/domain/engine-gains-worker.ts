import { parentPort, workerData } from "node:worker_threads";
import SqliteDatabase from "better-sqlite3";
import type { Database } from "../db/database.js";
import { readGainsRange, type VideoRange } from "./engine-gains.js";

/** Reads one range of videos' gains from a SQLite file on its own read-only connection. */
const { file, range } = workerData as { file: string; range: VideoRange };
const sqlite = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
sqlite.pragma("cache_size = -65536");
const gains = await readGainsRange({ sqlite, dialect: "sqlite" } as Database, range);
sqlite.close();
parentPort!.postMessage(gains, [
  gains.videoCountry.buffer,
  gains.videoCreateDay.buffer,
  gains.videoTagStart.buffer,
  gains.videoTags.buffer,
  gains.gainVideo.buffer,
  gains.gainDay.buffer,
  gains.gainViews.buffer,
] as ArrayBuffer[]);
