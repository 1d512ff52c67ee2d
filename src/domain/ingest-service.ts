import { sql } from "kysely";
import type { Database } from "../db/database.js";
import { chunks } from "../lib/order.js";
import { parseCatalogEntry, type CatalogItem } from "./catalog.js";
import { BUMP_GENERATION_SQL, markStale } from "./engine-state.js";
import { createStringTable, isObservationBatchSource, parseObservationBatches, type InputRecord } from "./ingest/observation-batch.js";
import { createPostgresObservationWriter } from "./observation-writer.js";
import { createSqliteObservationWriter } from "./sqlite-observation-writer.js";

/**
 * At most this many valid observations are stored per transaction, unless the caller says otherwise.
 * A SQLite transaction rewrites every page it touches once, so larger batches touch each page for
 * more rows; PostgreSQL's batches are held in memory as arrays, so they stay smaller.
 */
const DEFAULT_BATCH_SIZE = { sqlite: 400_000, postgres: 200_000 } as const;

export interface IngestError {
  readonly line: number;
  readonly reason: string;
}

/** What an ingest did: every record read is accepted, a duplicate, or rejected with a reason. */
export interface IngestReport {
  read: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  /** The first rejected records, with their line (or array item) number. */
  errors: IngestError[];
  /** False when the ingest was interrupted; everything counted here is stored. */
  complete: boolean;
}

export interface IngestOptions {
  /** At most this many valid observations per transaction. */
  readonly batchSize?: number;
  readonly onProgress?: (report: Readonly<IngestReport>) => void;
  /** Stops after the batch in progress is stored. */
  readonly signal?: AbortSignal;
  /** How many rejected records to list individually (all are counted). */
  readonly maxErrors?: number;
}

export interface CatalogReport {
  read: number;
  stored: number;
  rejected: number;
  errors: IngestError[];
}

export interface IngestService {
  ingestObservations(records: AsyncIterable<InputRecord>, options?: IngestOptions): Promise<IngestReport>;
  ingestCatalog(records: AsyncIterable<InputRecord>): Promise<CatalogReport>;
}

/**
 * Stores observations and the hashtag catalog. Idempotent and order-independent: every stored value
 * is a maximum under a total order, so any batching, shuffling or repetition of the input ends in the
 * same rows. Each batch commits atomically together with the mark of the days it made stale.
 */
export function createIngestService(deps: { database: Database }): IngestService {
  const { db, maxParams } = deps.database;
  const writer = deps.database.sqlite
    ? createSqliteObservationWriter(deps.database.sqlite)
    : createPostgresObservationWriter(deps.database);

  return {
    async ingestObservations(records, options = {}) {
      const batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE[deps.database.dialect]);
      const maxErrors = options.maxErrors ?? 100;
      const report: IngestReport = { read: 0, accepted: 0, duplicate: 0, rejected: 0, rejectedByReason: {}, errors: [], complete: false };
      // A file source reads and validates on another thread while this one writes.
      const batches = isObservationBatchSource(records)
        ? records.observationBatches({ batchSize })
        : parseObservationBatches(records, batchSize);
      const strings = createStringTable();
      writer.begin();
      try {
        for await (const batch of batches) {
          strings.apply(batch);
          report.read += batch.read;
          for (const { line, reason } of batch.rejected) {
            report.rejected++;
            report.rejectedByReason[reason] = (report.rejectedByReason[reason] ?? 0) + 1;
            if (report.errors.length < maxErrors) report.errors.push({ line, reason });
          }
          if (batch.observations.count > 0) await writer.write(batch, strings.strings, report);
          options.onProgress?.(report);
          if (options.signal?.aborted) return report;
        }
      } finally {
        await writer.end();
      }
      report.complete = true;
      options.onProgress?.(report);
      return report;
    },

    async ingestCatalog(records) {
      const report: CatalogReport = { read: 0, stored: 0, rejected: 0, errors: [] };
      const items = new Map<string, CatalogItem>();
      for await (const record of records) {
        report.read++;
        const parsed = record.error === undefined ? parseCatalogEntry(record.value) : { ok: false as const, reason: record.error };
        if (parsed.ok) items.set(parsed.value.name, parsed.value);
        else {
          report.rejected++;
          if (report.errors.length < 100) report.errors.push({ line: record.line, reason: parsed.reason });
        }
      }
      await db.transaction().execute(async (trx) => {
        const before = new Map<string, number | null>();
        for (const part of chunks([...items.keys()], maxParams)) {
          const rows = await trx.selectFrom("hashtags").select(["name", "industry_id"]).where("name", "in", part).execute();
          for (const r of rows) before.set(r.name, r.industry_id);
        }
        const rows = [...items.values()].map((i) => ({
          name: i.name,
          hashtag_id: i.hashtagId,
          industry_id: i.industryId,
          is_promoted: i.isPromoted ? 1 : 0,
        }));
        for (const part of chunks(rows, Math.floor(maxParams / 4))) {
          await trx
            .insertInto("hashtags")
            .values(part)
            .onConflict((oc) =>
              oc.column("name").doUpdateSet((eb) => ({
                hashtag_id: eb.ref("excluded.hashtag_id"),
                industry_id: eb.ref("excluded.industry_id"),
                is_promoted: eb.ref("excluded.is_promoted"),
              })),
            )
            .execute();
        }
        report.stored = rows.length;
        // Industries decide chart membership on every day: a change makes all charts stale.
        const industryChanged = [...items.values()].some((i) => (before.has(i.name) ? before.get(i.name) : null) !== i.industryId);
        if (industryChanged) {
          // The generation first, as every writer of the marks takes them: a build locks it before the marks.
          await sql.raw(BUMP_GENERATION_SQL).execute(trx);
          await markStale(trx, "from", Number.MIN_SAFE_INTEGER);
        }
      });
      return report;
    },
  };
}
