import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql, type Kysely } from "kysely";
import { videoPeaksMigration } from "../src/db/migrations/011-video-peaks.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DatabaseSchema } from "../src/db/schema.js";
import { preferIndexLookups } from "../src/domain/observation-writer.js";
import { readRecords } from "../src/sources/record-file.js";
import { createTestContext, TEST_DATABASES, type TestContext } from "./databases.js";

const valid = (over: Record<string, unknown> = {}) => ({
  id: "7301234567890123456",
  create_time: 1769472000,
  region_code: "US",
  hashtag_names: ["Clean", "#carwash"],
  username: "beckymae",
  view_count: 100,
  observed_at: 1769558400,
  nick_name: "becky mae",
  avatar_url: "https://example.com/a.png",
  ...over,
});

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-ingest-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeLines(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

for (const database of TEST_DATABASES) {
  describe.skipIf(!database.enabled)(`ingest on ${database.name}`, () => {
    let context: TestContext;
    beforeEach(async () => {
      context = await createTestContext(database.name);
    });
    afterEach(async () => {
      await context.dispose();
    });

    it("reports every bad line with its number and reason and stores the rest", async () => {
      const file = writeLines("obs.ndjson", [
        JSON.stringify(valid()),
        "{not json",
        JSON.stringify(valid({ id: "7301234567890123457", view_count: undefined })),
        JSON.stringify(valid({ id: "7301234567890123458", view_count: "12" })),
        JSON.stringify(valid({ id: "abc" })),
        JSON.stringify(valid({ id: "7301234567890123459", region_code: "USA" })),
        JSON.stringify(valid({ id: "7301234567890123460", observed_at: 1769000000 })),
        "",
        JSON.stringify(valid({ id: "7301234567890123461" })),
      ]);
      const report = await context.ingest.ingestObservations(readRecords(file));
      expect(report).toMatchObject({ read: 8, accepted: 2, duplicate: 0, rejected: 6, complete: true });
      expect(report.errors).toEqual([
        { line: 2, reason: "not valid JSON" },
        { line: 3, reason: "missing field view_count" },
        { line: 4, reason: "view_count must be an integer" },
        { line: 5, reason: "id must be a string of digits" },
        { line: 6, reason: "region_code must be a two-letter country code" },
        { line: 7, reason: "observed_at is before create_time" },
      ]);
      expect(report.rejectedByReason["not valid JSON"]).toBe(1);
      const stored = await context.database.db.selectFrom("observations").select("video_id").orderBy("video_id").execute();
      expect(stored.map((r) => r.video_id)).toEqual(["7301234567890123456", "7301234567890123461"]);
    });

    it("reads a JSON array the same way as NDJSON, numbering items", async () => {
      const file = path.join(dir, "obs.json");
      fs.writeFileSync(file, JSON.stringify([valid(), valid({ id: 5 }), valid({ observed_at: 1769558500, view_count: 150 })], null, 2));
      const report = await context.ingest.ingestObservations(readRecords(file));
      expect(report).toMatchObject({ read: 3, accepted: 2, rejected: 1 });
      expect(report.errors).toEqual([{ line: 2, reason: "id must be a string" }]);
    });

    it("counts a repeated observation as a duplicate and keeps the larger view count", async () => {
      const file = writeLines("obs.ndjson", [
        JSON.stringify(valid({ view_count: 100 })),
        JSON.stringify(valid({ view_count: 300 })),
        JSON.stringify(valid({ view_count: 200 })),
      ]);
      const first = await context.ingest.ingestObservations(readRecords(file));
      expect(first).toMatchObject({ read: 3, accepted: 1, duplicate: 2 });
      const again = await context.ingest.ingestObservations(readRecords(file));
      expect(again).toMatchObject({ read: 3, accepted: 0, duplicate: 3 });
      const rows = await context.database.db.selectFrom("observations").selectAll().execute();
      expect(rows).toEqual([{ video_id: "7301234567890123456", observed_at: 1769558400, view_count: 300 }]);
    });

    it("keeps each video's peak views, overall and before its last day, as the migration computes them from stored observations", async () => {
      const day = 86_400;
      const at = (d: number, second = 0) => 1769558400 + d * day + second;
      const a = "7301234567890123456";
      const b = "7301234567890123457";
      const c = "7301234567890123458";
      // Out of order, across two ingests: a's last day arrives first, its views fall, and rise again within a day.
      await context.ingest.ingestObservations(
        readRecords(writeLines("late.ndjson", [JSON.stringify(valid({ id: a, view_count: 300, observed_at: at(3) }))])),
      );
      await context.ingest.ingestObservations(
        readRecords(
          writeLines("early.ndjson", [
            JSON.stringify(valid({ id: a, view_count: 500, observed_at: at(1) })),
            JSON.stringify(valid({ id: a, view_count: 400, observed_at: at(2) })),
            JSON.stringify(valid({ id: b, view_count: 100, observed_at: at(1) })),
            JSON.stringify(valid({ id: b, view_count: 700, observed_at: at(2) })),
            JSON.stringify(valid({ id: b, view_count: 900, observed_at: at(2, 60) })),
            JSON.stringify(valid({ id: c, view_count: 50, observed_at: at(2) })),
          ]),
        ),
      );
      const { db, dialect } = context.database;
      const peaks = () => db.selectFrom("videos").select(["video_id", "peak_views", "peak_before_last_day"]).orderBy("video_id").execute();
      const expected = [
        { video_id: a, peak_views: 500, peak_before_last_day: 500 },
        { video_id: b, peak_views: 900, peak_before_last_day: 100 },
        { video_id: c, peak_views: 50, peak_before_last_day: 0 },
      ];
      expect(
        (await peaks()).map((r) => ({ ...r, peak_views: Number(r.peak_views), peak_before_last_day: Number(r.peak_before_last_day) })),
      ).toEqual(expected);
      // A database from before the columns: the migration adds them and fills them in.
      await sql`alter table videos drop column peak_views`.execute(db);
      await sql`alter table videos drop column peak_before_last_day`.execute(db);
      await videoPeaksMigration(dialect).up(db as Kysely<unknown>);
      expect(
        (await peaks()).map((r) => ({ ...r, peak_views: Number(r.peak_views), peak_before_last_day: Number(r.peak_before_last_day) })),
      ).toEqual(expected);
    });

    it.skipIf(database.name !== "PostgreSQL")(
      "refreshes the planner's statistics after an ingest that grows the observations by a tenth, not after a small one",
      async () => {
        // An analysis counts the rows into pg_class.reltuples, which inserts alone leave as they are.
        const counted = async () => {
          const { rows } = await sql<{ rows: number }>`
            select reltuples::float8 as rows from pg_class where oid = 'observations'::regclass`.execute(context.database.db);
          return Number(rows[0]!.rows);
        };
        const lines = (from: number, count: number) =>
          Array.from({ length: count }, (_, i) => JSON.stringify(valid({ id: String(7301234567890200000n + BigInt(from + i)) })));
        await context.ingest.ingestObservations(readRecords(writeLines("first.ndjson", lines(0, 200))));
        expect(await counted()).toBe(200);
        await context.ingest.ingestObservations(readRecords(writeLines("small.ndjson", lines(200, 19))));
        expect(await counted()).toBe(200);
        await context.ingest.ingestObservations(readRecords(writeLines("large.ndjson", lines(219, 30))));
        expect(await counted()).toBe(249);
      },
    );

    it.skipIf(database.name !== "PostgreSQL")(
      "prices random page reads for index lookups within a batch's transaction only, keeping a lower setting",
      async () => {
        const { db } = context.database;
        const cost = async (trx: Kysely<DatabaseSchema>) => {
          const { rows } = await sql<{ cost: string }>`select current_setting('random_page_cost') as cost`.execute(trx);
          return Number(rows[0]!.cost);
        };
        await db.connection().execute(async (connection) => {
          const before = await cost(connection);
          expect(before).toBeGreaterThan(1.1);
          await connection.transaction().execute(async (trx) => {
            await preferIndexLookups(trx);
            expect(await cost(trx)).toBe(1.1);
          });
          expect(await cost(connection)).toBe(before);
          await sql`set random_page_cost = 1`.execute(connection);
          await connection.transaction().execute(async (trx) => {
            await preferIndexLookups(trx);
            expect(await cost(trx)).toBe(1);
          });
          await sql`reset random_page_cost`.execute(connection);
        });
        // And a whole ingest leaves the setting as it found it.
        await context.ingest.ingestObservations(readRecords(writeLines("obs.ndjson", [JSON.stringify(valid())])));
        await db.connection().execute(async (connection) => expect(await cost(connection)).toBeGreaterThan(1.1));
      },
    );

    it("settles a stored observation against one of the same second and views by their attributes, whichever came first", async () => {
      // Both are the same observation, read twice with different attributes and display fields.
      const us = valid({ hashtag_names: ["zeta", "alpha"], nick_name: "Becky" });
      const gb = valid({ region_code: "GB", hashtag_names: ["beta"], nick_name: "becky", avatar_url: null });
      const stored = async (records: Record<string, unknown>[]) => {
        const other = await createTestContext(database.name);
        try {
          for (const [k, record] of records.entries()) {
            await other.ingest.ingestObservations(readRecords(writeLines(`${k}.ndjson`, [JSON.stringify(record)])));
          }
          const { db } = other.database;
          return {
            videos: await db.selectFrom("videos").select(["video_id", "region", "username", "latest_at", "latest_views"]).execute(),
            tags: (
              await db
                .selectFrom("video_tags")
                .innerJoin("tags", "tags.id", "video_tags.tag")
                .select("tags.name")
                .orderBy("tags.name")
                .execute()
            ).map((r) => r.name),
            creators: await db.selectFrom("creators").select(["username", "nick_name", "avatar_url"]).execute(),
          };
        } finally {
          await other.dispose();
        }
      };
      const rows = await stored([us, gb]);
      expect(await stored([gb, us])).toEqual(rows);
      // The attributes' canonical strings, [create_time, region, ...] and [nick_name, avatar_url], compared
      // byte by byte: "US" after "GB"; "becky" after "Becky".
      expect(rows.videos.map((v) => v.region)).toEqual(["US"]);
      expect(rows.tags).toEqual(["alpha", "zeta"]);
      expect(rows.creators).toEqual([{ username: "beckymae", nick_name: "becky", avatar_url: null }]);
    });

    it.skipIf(database.name !== "PostgreSQL")(
      "leaves a fifth of each page of videos and creators for the new versions of their rows",
      async () => {
        const { rows } = await sql<{ table: string; options: string[] | null }>`
          select relname as table, reloptions as options from pg_class
          where relname in ('videos', 'creators') and relnamespace = to_regnamespace(current_schema())
          order by relname`.execute(context.database.db);
        expect(rows).toEqual([
          { table: "creators", options: ["fillfactor=80"] },
          { table: "videos", options: ["fillfactor=80"] },
        ]);
      },
    );

    it("stores hashtags lower-case without #, and UK as GB", async () => {
      await context.ingest.ingestObservations(readRecords(writeLines("obs.ndjson", [JSON.stringify(valid({ region_code: "uk" }))])));
      const video = await context.database.db.selectFrom("videos").select(["region", "tags"]).executeTakeFirstOrThrow();
      const tags = await context.database.db.selectFrom("tags").select("name").orderBy("name").execute();
      expect(video.region).toBe("GB");
      expect(tags.map((t) => t.name)).toEqual(["carwash", "clean"]);
    });

    it("stops after the batch in progress when interrupted, and a rerun completes the same data", async () => {
      const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify(valid({ id: String(7301234567890123456n + BigInt(i)) })));
      const file = writeLines("obs.ndjson", lines);
      const abort = new AbortController();
      const partial = await context.ingest.ingestObservations(readRecords(file), {
        batchSize: 10,
        signal: abort.signal,
        onProgress: () => abort.abort(),
      });
      expect(partial.complete).toBe(false);
      expect(partial.accepted).toBe(10);
      const rerun = await context.ingest.ingestObservations(readRecords(file), { batchSize: 10 });
      expect(rerun).toMatchObject({ complete: true, accepted: 40, duplicate: 10 });
      const count = await context.database.db
        .selectFrom("observations")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(50);
    });

    it("stores nothing of a batch whose last statement fails, passes the database's error on, and a rerun stores it all", async () => {
      const { db, sqlite } = context.database;
      // Creators are written after the batch's observations, hashtags and videos.
      if (sqlite) {
        sqlite.exec(
          "create trigger refuse before insert on creators when new.username = 'refused' begin select raise(abort, 'creator refused'); end",
        );
      } else {
        await sql`create function refuse_creator() returns trigger language plpgsql as $$
          begin if new.username = 'refused' then raise exception 'creator refused'; end if; return new; end $$`.execute(db);
        await sql`create trigger refuse before insert on creators for each row execute function refuse_creator()`.execute(db);
      }
      const lines = Array.from({ length: 20 }, (_, i) =>
        JSON.stringify(valid({ id: String(7301234567890123456n + BigInt(i)), username: i === 13 ? "refused" : `creator${i}` })),
      );
      const file = writeLines("obs.ndjson", lines);
      await expect(context.ingest.ingestObservations(readRecords(file))).rejects.toThrow(/creator refused/);
      const counts = async () =>
        Promise.all(
          (["observations", "videos", "video_tags", "creators"] as const).map(async (table) => {
            const row = await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll().as("n"))
              .executeTakeFirstOrThrow();
            return Number(row.n);
          }),
        );
      expect(await counts()).toEqual([0, 0, 0, 0]);

      await sql`drop trigger refuse${sqlite ? sql`` : sql` on creators`}`.execute(db);
      const rerun = await context.ingest.ingestObservations(readRecords(file));
      expect(rerun).toMatchObject({ complete: true, accepted: 20, duplicate: 0 });
      expect(await counts()).toEqual([20, 20, 40, 20]);
    });

    it("rejects catalog entries with an unknown industry or a malformed id, and keeps the others", async () => {
      const file = path.join(dir, "catalog.json");
      fs.writeFileSync(
        file,
        JSON.stringify([
          { hashtag_name: "Clean", hashtag_id: "7244", industry_id: 11000000000, is_promoted: false },
          { hashtag_name: "food", hashtag_id: "12", industry_id: 16000000000, is_promoted: false },
          { hashtag_name: "cats", hashtag_id: "x1", industry_id: null, is_promoted: true },
        ]),
      );
      const report = await context.ingest.ingestCatalog(readRecords(file));
      expect(report).toMatchObject({ read: 3, stored: 1, rejected: 2 });
      expect(report.errors).toEqual([
        { line: 2, reason: "industry_id 16000000000 is not a first-level industry" },
        { line: 3, reason: "hashtag_id must be a string of up to 19 digits" },
      ]);
      const stored = await context.database.db.selectFrom("hashtags").selectAll().execute();
      expect(stored).toEqual([{ name: "clean", hashtag_id: "7244", industry_id: 11000000000, is_promoted: 0 }]);
    });
  });
}
