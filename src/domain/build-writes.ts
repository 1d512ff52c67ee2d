import { Worker } from "node:worker_threads";
import { withBulkWriter, type BulkWriter } from "../db/bulk.js";
import type { Database } from "../db/database.js";
import { compiledWorker } from "../lib/compiled-worker.js";
import { CHART_REGIONS, PERIODS, SERIES_PER_SLOT, seriesIndex, seriesKey } from "./chart-model.js";
import { addBuffers, type RankedRegion } from "./chart-ranking.js";
import { bumpCounterSql, CHARTS_VERSION_KEY, GENERATION_KEY, STALE_MARK_KEYS } from "./engine-state.js";
import { encodeDaySeries, encodeInts, encodeRegionDay, seriesBlock, SERIES_BLOCK_DAYS, type RegionDay } from "./series-codec.js";

/**
 * What a build writes, in one transaction: it clears what it replaces, writes the recomputed days
 * (`region_days`, `tag_series`) once they are summed, then the charts once they are ranked. A short
 * build writes its days while it ranks, on a connection other than the one it reads on: on SQLite, a
 * writing thread's, when the build runs compiled; on PostgreSQL, one of the pool, which also clears
 * what the build replaces while it reads.
 */

/** What a build replaces: everything from `fromDay` on, all of it when that is the data's first day. */
export interface BuildScope {
  readonly firstDay: number;
  readonly fromDay: number;
}

/** The recomputed days, and the stored ones their first series block starts with. */
export interface DaysWrite extends BuildScope {
  /** By recomputed day, by region index in `regions`. */
  readonly days: readonly (readonly RegionDay[])[];
  /** Region codes: those of the recomputed days first, in their order, then any only stored days have. */
  readonly regions: readonly string[];
  /** The stored days of `fromDay`'s series block before it, from `seriesFrom` on, by region index in `regions`. */
  readonly storedDays: readonly (readonly RegionDay[])[];
  readonly seriesFrom: number;
  /** One more than the largest tag id. */
  readonly tagCount: number;
}

/** The rankings of every chart region (by slot), from `fromDay` to `lastDay`. */
export interface ChartsWrite {
  readonly fromDay: number;
  readonly lastDay: number;
  readonly ranked: readonly Pick<RankedRegion, "entries" | "ends" | "firsts" | "windows">[];
}

/** A build's write transaction: given the days, then the charts, it commits. */
export interface BuildWrite {
  /** Writes the days of the build's scope: copied to the writing thread unless `transfer` lets them move there. */
  days(days: DaysWrite, options?: { transfer?: boolean }): void;
  /** Writes the charts and commits; false when an ingest committed after the build began reading, and nothing was written. */
  charts(charts: ChartsWrite): Promise<boolean>;
}

/** A build's writing, from the start of the build to its end. */
export interface BuildWrites {
  /** Starts the writing thread, if there is to be one, once the build knows it has work. */
  prepare(): void;
  /**
   * Begins the write transaction of a build that began reading at `generation`. On PostgreSQL it begins
   * at once and clears the build's scope while the build reads; a SQLite writing thread begins it once
   * given the days, and the build's own SQLite connection once given the charts. Whichever, it checks the
   * generation last, before it commits.
   */
  begin(generation: string, scope: BuildScope): BuildWrite;
  /** Once the build is over, however it ended: rolls back a transaction begun and not committed, and ends the thread. */
  settle(): Promise<void>;
}

/** Thrown inside a build's write transaction when an ingest committed after the build began reading. */
class Superseded extends Error {}

/** The message a writing thread ends with. */
export type WriteOutcome = { written: boolean } | { error: string };

/**
 * Where a build writes from. On a SQLite file, when the build runs compiled, from a thread started as
 * the build starts reading, so as to be ready when the days are: meanwhile that thread checkpoints what
 * the last ingest left in the write-ahead log. On PostgreSQL, from a connection of the pool, whenever
 * the build's reading and ranking let it. On SQLite in memory and in the tests, run from sources, on
 * the build's own connection once the charts are ranked.
 */
export function createBuildWrites(database: Database): BuildWrites {
  const file = database.sqlite && !database.sqlite.memory ? database.sqlite.name : undefined;
  const url = file ? compiledWorker("./build-writes-worker.js", import.meta.url) : false;
  if (!file || !url) {
    let abandon: (() => void) | undefined;
    let written: Promise<boolean> | undefined;
    return {
      prepare() {},
      begin(generation, scope) {
        const days = deferred<DaysWrite | undefined>();
        const ranked = deferred<ChartsWrite | undefined>();
        abandon = () => (days.resolve(undefined), ranked.resolve(undefined));
        const write = () => {
          written = writeBuild(
            database,
            generation,
            scope,
            () => days.promise,
            () => ranked.promise,
          );
          written.catch(ignore); // awaited by charts(), unless the build failed first
          return written;
        };
        // The build reads on a SQLite connection until its charts are ranked: its transaction waits for them.
        if (!database.sqlite) write();
        return {
          days: (given) => days.resolve(given),
          charts: (charts) => (ranked.resolve(charts), written ?? write()),
        };
      },
      async settle() {
        abandon?.();
        await written?.then(ignore, ignore);
      },
    };
  }
  let thread: Worker | undefined;
  let outcome: Promise<boolean> | undefined;
  let begun = false;
  const start = (): Worker => {
    const worker = new Worker(url, { workerData: { file } });
    outcome = new Promise<boolean>((resolve, reject) => {
      worker.once("message", (message: WriteOutcome) => {
        if ("error" in message) reject(new Error(`the build's write failed: ${message.error}`));
        else resolve(message.written);
      });
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`the build's writing thread stopped with exit code ${code}`)));
    });
    outcome.catch(ignore); // awaited by charts(), unless the build failed first
    return worker;
  };
  return {
    prepare() {
      thread ??= start();
    },
    begin(generation) {
      const worker = (thread ??= start());
      return {
        // The thread begins once it has the days, which the build hands over before it reads what earlier
        // builds stored: begun as the build started reading, its transaction made the reading slower than
        // it made the writing faster. The days are the scope.
        days(days, options = {}) {
          const moved = new Set<ArrayBufferLike>();
          if (options.transfer) for (const day of [...days.days, ...days.storedDays]) addBuffers(moved, day);
          worker.postMessage({ generation, days }, [...moved] as ArrayBuffer[]);
          begun = true;
        },
        charts: ({ ranked, ...rest }) => {
          // The rankings were made for this write: they move.
          const moved = new Set<ArrayBufferLike>();
          const charts: ChartsWrite = {
            ...rest,
            ranked: ranked.map(({ entries, ends, firsts, windows }) => {
              moved.add(entries.buffer).add(ends.buffer);
              for (const pairs of firsts) moved.add(pairs.buffer);
              addBuffers(moved, windows);
              return { entries, ends, firsts, windows };
            }),
          };
          worker.postMessage({ charts }, [...moved] as ArrayBuffer[]);
          return outcome!;
        },
      };
    },
    async settle() {
      if (!thread) return;
      // Undefined charts roll the transaction back; a thread not given days has nothing to roll back.
      if (begun) thread.postMessage({ charts: undefined });
      else await thread.terminate();
      await outcome!.then(ignore, ignore);
    },
  };
}

const ignore = () => {};

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The whole transaction on `database`: true once committed, false when superseded. It clears the
 * scope, then writes the days and the charts as they come; undefined for either abandons it.
 */
export function writeBuild(
  database: Database,
  generation: string,
  scope: BuildScope,
  days: () => Promise<DaysWrite | undefined>,
  ranked: () => Promise<ChartsWrite | undefined>,
): Promise<boolean> {
  return writeUnlessSuperseded(database, generation, async (writer) => {
    await clearScope(writer, scope);
    const summed = await days();
    if (!summed) throw new Error("the build failed before its days were summed");
    await writeDays(writer, summed);
    const charts = await ranked();
    if (!charts) throw new Error("the build failed before its charts were ranked");
    await writeCharts(writer, charts);
  });
}

/**
 * Runs `work` in one write transaction of `database`, then `finishBuild` before the commit: false when
 * superseded, and nothing was written. Until then the transaction holds no row an ingest writes: an
 * ingest waits for no build but its last statements, and one that commits meanwhile has the build start over.
 */
export async function writeUnlessSuperseded(
  database: Database,
  generation: string,
  work: (writer: BulkWriter) => Promise<void>,
): Promise<boolean> {
  try {
    await withBulkWriter(database, async (writer) => {
      await work(writer);
      await finishBuild(writer, generation);
    });
    return true;
  } catch (error) {
    if (error instanceof Superseded) return false;
    throw error;
  }
}

/**
 * Checks, in the write transaction, that no ingest committed since the build began reading at
 * `generation`: then all of the ingests' marks and recounted videos were taken into account, and they go.
 */
async function finishBuild(writer: BulkWriter, generation: string): Promise<void> {
  // On PostgreSQL the row stays locked until the commit: an ingest's raise waits for it.
  const [current] = await writer.query(`select value from engine_state where key = ?${writer.dialect === "sqlite" ? "" : " for update"}`, [
    GENERATION_KEY,
  ]);
  if (String(current?.[0] ?? "0") !== generation) throw new Superseded("an ingest committed during the build");
  const marks = Object.values(STALE_MARK_KEYS);
  await writer.exec(`delete from engine_state where key in (${marks.map(() => "?").join(", ")})`, marks);
  await writer.exec("delete from recounted_videos");
  await writer.exec(bumpCounterSql(CHARTS_VERSION_KEY));
}

/** Deletes the charts, stored days and series blocks from the scope's first day on. */
async function clearScope(writer: BulkWriter, { firstDay, fromDay }: BuildScope): Promise<void> {
  // Without a condition, SQLite empties a table at once instead of row by row.
  const since = fromDay === firstDay ? "" : ` where day >= ${fromDay}`;
  await writer.exec(`delete from charts${since}`);
  await writer.exec(`delete from region_days${since}`);
  // Series blocks from the first day's block on are rewritten whole.
  await writer.exec(fromDay === firstDay ? "delete from tag_series" : `delete from tag_series where block >= ${seriesBlock(fromDay)}`);
}

/** Stores the recomputed days and their series blocks. */
async function writeDays(writer: BulkWriter, write: DaysWrite): Promise<void> {
  const { fromDay } = write;
  await writer.insert(
    "region_days",
    [
      ["day", "int4"],
      ["region", "text"],
      ["entries", "bytea"],
    ],
    // Encoded as they are written: together they are as large as the days themselves.
    (function* () {
      for (const [offset, perRegion] of write.days.entries()) {
        for (const [r, data] of perRegion.entries()) {
          if (data.tags.length > 0) yield [fromDay + offset, write.regions[r], encodeRegionDay(data)];
        }
      }
    })(),
  );
  // The first block's days before the stale day come back from region_days, which holds the same numbers by day.
  for (const rows of seriesBlockRows([...write.storedDays, ...write.days], write.seriesFrom, write.regions, write.tagCount)) {
    await writer.insert(
      "tag_series",
      [
        ["block", "int4"],
        ["tag", "int4"],
        ["region", "text"],
        ["days", "bytea"],
      ],
      rows,
    );
  }
}

/** Stores every chart from `fromDay` on, and the windows and first days the next build starts from. */
async function writeCharts(writer: BulkWriter, { fromDay, lastDay, ranked }: ChartsWrite): Promise<void> {
  await writer.insert(
    "charts",
    [
      ["day", "int4"],
      ["region", "text"],
      ["period", "int4"],
      ["industry", "text"],
      ["entries", "bytea"],
    ],
    (function* () {
      for (let d = 0; d <= lastDay - fromDay; d++) {
        for (const [slot, { entries, ends }] of ranked.entries()) {
          for (let series = 0; series < SERIES_PER_SLOT; series++) {
            const chart = d * SERIES_PER_SLOT + series;
            const start = chart === 0 ? 0 : ends[chart - 1]!;
            const { period, industry } = seriesKey(seriesIndex(slot, 0, series));
            yield [
              fromDay + d,
              CHART_REGIONS[slot],
              period,
              industry,
              Buffer.from(entries.buffer, entries.byteOffset + start, ends[chart]! - start),
            ];
          }
        }
      }
    })(),
  );
  // The windows now end on the last day.
  await writer.exec("delete from chart_windows");
  await writer.insert(
    "chart_windows",
    [
      ["region", "text"],
      ["period", "int4"],
      ["day", "int4"],
      ["entries", "bytea"],
    ],
    (function* () {
      for (const [slot, region] of CHART_REGIONS.entries()) {
        for (const [p, period] of PERIODS.entries()) yield [region, period, lastDay, encodeRegionDay(ranked[slot]!.windows[p]!)];
      }
    })(),
  );
  await writer.exec("delete from chart_series");
  await writer.insert(
    "chart_series",
    [
      ["region", "text"],
      ["period", "int4"],
      ["industry", "text"],
      ["firsts", "bytea"],
    ],
    ranked.flatMap(({ firsts }, slot) =>
      firsts.map((pairs, series) => {
        const { region, period, industry } = seriesKey(seriesIndex(slot, 0, series));
        return [region, period, industry, encodeInts(pairs)];
      }),
    ),
  );
}

/**
 * `tag_series` rows, block by block, of every day from `fromDay` on (`days` has a day per index, its
 * regions by their index in `regions`; a region may be missing), in key order (tag, then region code)
 * so that they are appended to the table's B-tree rather than scattered in it. Each series is a cell of
 * a table by tag and region, laid out in that order: counting its days, then filling them in, needs
 * neither a map nor a sort.
 */
function* seriesBlockRows(
  days: readonly (readonly RegionDay[])[],
  fromDay: number,
  regions: readonly string[],
  tagCount: number,
): Generator<Iterable<unknown[]>> {
  const lastDay = fromDay + days.length - 1;
  const regionCount = regions.length;
  // Region codes are ASCII, where string order is byte order.
  const byCode = [...regions.keys()].sort((a, b) => (regions[a]! < regions[b]! ? -1 : regions[a]! > regions[b]! ? 1 : 0));
  const column = new Int32Array(regionCount);
  byCode.forEach((r, k) => (column[r] = k));
  const eachEntry = (first: number, last: number, visit: (cell: number, data: RegionDay, i: number, day: number) => void) => {
    for (let day = first; day <= last; day++) {
      days[day - fromDay]!.forEach((data, r) => {
        const k = column[r]!;
        for (let i = 0; i < data.tags.length; i++) visit(data.tags[i]! * regionCount + k, data, i, day);
      });
    }
  };
  for (let block = seriesBlock(fromDay); block <= seriesBlock(lastDay); block++) {
    const first = Math.max(fromDay, block * SERIES_BLOCK_DAYS);
    const last = Math.min(lastDay, (block + 1) * SERIES_BLOCK_DAYS - 1);
    // Two passes over the block's days: count each series' days, then fill them in place. Tables of the
    // block's own: its rows are encoded from them lazily, by whoever writes them, whenever that is.
    const counts = new Int32Array(tagCount * regionCount);
    const ends = new Int32Array(counts.length);
    eachEntry(first, last, (cell) => counts[cell]!++);
    let entries = 0;
    for (let cell = 0; cell < counts.length; cell++) {
      ends[cell] = entries;
      entries += counts[cell]!;
    }
    const seriesDays = new Int32Array(entries);
    const views = new Float64Array(entries);
    const pubs = new Int32Array(entries);
    eachEntry(first, last, (cell, data, i, day) => {
      const at = ends[cell]!++;
      seriesDays[at] = day;
      views[at] = data.views[i]!;
      pubs[at] = data.pubs[i]!;
    });
    // Encoded as they are written.
    yield (function* () {
      for (let cell = 0; cell < counts.length; cell++) {
        if (counts[cell] === 0) continue;
        const to = ends[cell]!;
        const from = to - counts[cell]!;
        const region = regions[byCode[cell % regionCount]!]!;
        yield [
          block,
          Math.floor(cell / regionCount),
          region,
          encodeDaySeries(seriesDays.subarray(from, to), views.subarray(from, to), pubs.subarray(from, to)),
        ];
      }
    })();
  }
}
