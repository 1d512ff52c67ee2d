import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { idTable, oneOf, withBulkWriter, streamRows, type BulkColumn } from "../src/db/bulk.js";
import pg from "pg";
import { createTestContext, POSTGRES_URL, TEST_DATABASES, type TestContext } from "./databases.js";

const COLUMNS: readonly BulkColumn[] = [
  ["id", "int4"],
  ["big", "int8"],
  ["ratio", "float8"],
  ["label", "text"],
  ["payload", "bytea"],
];

for (const database of TEST_DATABASES) {
  describe.skipIf(!database.enabled)(`bulk writes on ${database.name}`, () => {
    let context: TestContext | undefined;
    afterEach(async () => {
      await context?.dispose();
      context = undefined;
    });

    it("stores every column type as given, nulls and values larger than a write chunk included", async () => {
      context = await createTestContext(database.name);
      const blob = database.name === "SQLite" ? "blob" : "bytea";
      const big = database.name === "SQLite" ? "integer" : "bigint";
      const double = database.name === "SQLite" ? "real" : "double precision";
      await context.database.db.schema
        .createTable("bulk_probe")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("big", big)
        .addColumn("ratio", double)
        .addColumn("label", "text")
        .addColumn("payload", blob)
        .execute();
      const large = Buffer.alloc(3 * 2 ** 20 + 7, 0xab);
      const rows: unknown[][] = [
        [1, 2 ** 53 - 1, -0.125, "ünïcode 🌸, tabs\tand\nnewlines \\ too", Buffer.from([0, 1, 254, 255])],
        [2, -(2 ** 40), 1e300, "", Buffer.alloc(0)],
        [3, null, null, null, null],
        [4, 0, Number.MIN_VALUE, "x".repeat(70_000), large],
        ...Array.from({ length: 5_000 }, (_, i) => [10 + i, i * 1_000_003, i / 7, `row ${i}`, Buffer.from(String(i))]),
      ];
      await withBulkWriter(context.database, (writer) => writer.insert("bulk_probe", COLUMNS, rows));

      const stored: unknown[][] = [];
      const chunks: number[] = [];
      const types = COLUMNS.map(([, type]) => type);
      for await (const part of streamRows(
        context.database,
        "select id, big, ratio, label, payload from bulk_probe order by id",
        [],
        types,
        1_000,
      )) {
        stored.push(...part);
        chunks.push(part.length);
      }
      expect(stored).toHaveLength(rows.length);
      expect(chunks).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 4]);
      stored.forEach((row, i) => {
        const expected = rows[i]!;
        expect(row.slice(0, 4)).toEqual(expected.slice(0, 4));
        // Compared as bytes: a deep comparison of a 3 MB buffer takes seconds.
        const payload = row[4] === null ? null : Buffer.from(row[4] as Uint8Array);
        expect(
          payload === null ? expected[4] === null : payload.equals(expected[4] as Buffer),
          `payload of row ${String(expected[0])}`,
        ).toBe(true);
      });
    });

    it("writes nothing of a transaction whose rows are of the wrong type", async () => {
      context = await createTestContext(database.name);
      await context.database.db.schema.createTable("bulk_probe").addColumn("id", "integer").addColumn("label", "text").execute();
      const columns: readonly BulkColumn[] = [
        ["id", "int4"],
        ["label", "text"],
      ];
      const write = withBulkWriter(context.database, async (writer) => {
        await writer.insert("bulk_probe", columns, [[1, "fine"]]);
        await writer.insert("bulk_probe", columns, [[2, database.name === "SQLite" ? { not: "text" } : 42]]);
      });
      await expect(write).rejects.toThrow();
      const count = await context.database.db
        .selectFrom("bulk_probe" as never)
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirst();
      expect(Number((count as { n: unknown }).n)).toBe(0);
    });

    it("reads with parameters of every kind the engine binds, quotes, backslashes and braces included", async () => {
      context = await createTestContext(database.name);
      await context.database.db.schema.createTable("bulk_probe").addColumn("id", "integer").addColumn("label", "text").execute();
      const labels = [`it's`, `back\\slash`, `"quoted", {braced}`, "NULL", "ünïcode 🌸", "", "?", `'; drop table bulk_probe; --`];
      await withBulkWriter(context.database, (writer) =>
        writer.insert(
          "bulk_probe",
          [
            ["id", "int4"],
            ["label", "text"],
          ],
          [...labels, "left out"].map((label, i) => [i, label]),
        ),
      );
      const read = async (sqlText: string, params: unknown[]) => {
        const rows: unknown[][] = [];
        for await (const part of streamRows(context!.database, sqlText, params, ["int4", "text"])) rows.push(...part);
        return rows;
      };
      const byList = oneOf(context.database, "label", labels);
      expect(await read(`select id, label from bulk_probe where ${byList.sql} and id >= ? order by id`, [...byList.params, -1])).toEqual(
        labels.map((label, i) => [i, label]),
      );
      const table = idTable(context.database, labels.slice(2));
      expect(
        await read(`select b.id, b.label from ${table.sql} join bulk_probe b on b.label = ids.id order by b.id`, table.params),
      ).toEqual(labels.slice(2).map((label, i) => [i + 2, label]));
      expect(await read("select id, label from bulk_probe where label = ? or id = ?", [`it's`, null])).toEqual([[0, `it's`]]);
      expect(await read("select id, label from bulk_probe where id = ?", [8])).toEqual([[8, "left out"]]);
    });

    it.skipIf(database.name !== "PostgreSQL")("names the column whose values are not of the type asked for", async () => {
      context = await createTestContext(database.name);
      const read = async () => {
        for await (const rows of streamRows(context!.database, "select 1::int4 as small, 2::int4 as wrong", [], ["int4", "int8"]))
          void rows;
      };
      await expect(read()).rejects.toThrow("COPY column 2: 4 bytes where int8 has 8");
    });

    it.skipIf(database.name !== "PostgreSQL")("leaves the pool usable when a read stops before its last row", async () => {
      context = await createTestContext(database.name);
      const many = "select n, repeat('x', 1000) from generate_series(1, 20000) as n";
      for (let attempt = 0; attempt < 10; attempt++) {
        for await (const rows of streamRows(context.database, many, [], ["int4", "text"], 100)) {
          expect(rows[0]).toEqual([1, "x".repeat(1000)]);
          break;
        }
      }
      const counted: unknown[][] = [];
      for await (const rows of streamRows(context.database, "select count(*) from generate_series(1, ?::int)", [20000], ["int8"]))
        counted.push(...rows);
      expect(counted).toEqual([[20000]]);
    });

    it.skipIf(database.name !== "PostgreSQL")(
      "runs every PostgreSQL session without JIT compilation, in the context's schema",
      async () => {
        context = await createTestContext(database.name);
        // Bulk reads take connections of their own, as the engine's do.
        const settings: unknown[][] = [];
        for await (const rows of streamRows(context.database, "select current_setting('jit'), current_schema()", [], ["text", "text"])) {
          settings.push(...rows);
        }
        expect(settings).toEqual([["off", expect.stringMatching(/^test_/)]]);
        const viaKysely = await sql<{ jit: string }>`select current_setting('jit') as jit`.execute(context.database.db);
        expect(viaKysely.rows).toEqual([{ jit: "off" }]);
      },
    );

    it.skipIf(database.name !== "PostgreSQL")("keeps working, with a warning, when the server ends its idle connections", async () => {
      context = await createTestContext(database.name);
      const { db, pool } = context.database;
      const pids = await Promise.all(
        [1, 2, 3].map(async () => (await sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.05)`.execute(db)).rows[0]!.pid),
      );
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(warning.message);
      process.on("warning", onWarning);
      try {
        const admin = new pg.Client({ connectionString: POSTGRES_URL });
        await admin.connect();
        await admin.query("select pg_terminate_backend(pid) from unnest($1::int[]) as pid", [pids]);
        await admin.end();
        for (let wait = 0; wait < 100 && pool!.totalCount > 0; wait++) await new Promise((resolve) => setTimeout(resolve, 50));
        await new Promise((resolve) => setImmediate(resolve));
        expect(pool!.totalCount).toBe(0);
        expect(warnings.filter((w) => w.includes("PostgreSQL closed an idle connection")).length).toBeGreaterThan(0);
        const after = await sql<{ one: number }>`select 1 as one`.execute(db);
        expect(after.rows).toEqual([{ one: 1 }]);
      } finally {
        process.off("warning", onWarning);
      }
    });
  });
}
