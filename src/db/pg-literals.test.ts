import pg from "pg";
import { describe, expect, it } from "vitest";
import { array, literal, withLiterals } from "./pg-literals.js";

const POSTGRES_URL = process.env.TEST_POSTGRES_URL;

const awkward = [
  "plain",
  "",
  'a "quoted" word',
  "back\\slash",
  "a,b",
  "{braces}",
  " spaced ",
  "NULL",
  "ünïcode 🌸",
  "tab\there",
  "line\nbreak",
  "\u0001",
  "lone \ud800",
];

/** What PostgreSQL gives back for a string: a lone surrogate becomes the replacement character, as in any UTF-8 encoder. */
const stored = (v: string | null) => (v === null ? null : Buffer.from(v).toString());

describe("array", () => {
  it("writes an array literal when JSON's text is one", () => {
    expect(array(["a", 'b"c', "d\\e", null])).toBe('{"a","b\\"c","d\\\\e",null}');
    expect(array([1, 20, 300])).toBe("{1,20,300}");
    expect(array([])).toBe("{}");
  });

  it("leaves to the driver the strings JSON would escape otherwise", () => {
    const values = ["ok", "tab\there"];
    expect(array(values)).toBe(values);
    // A control character right after an escaped backslash, and after a quote.
    for (const hidden of [["back\\\n"], ["x\\\\\u0001"], ['"\n']]) expect(array(hidden)).toBe(hidden);
    // Escaped backslashes and quotes alone, however many, stay in the literal.
    expect(array(["a\\\\b", '\\"'])).toBe('{"a\\\\\\\\b","\\\\\\""}');
  });

  it.skipIf(!POSTGRES_URL)("round-trips any strings and nulls through PostgreSQL", async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      for (const values of [awkward, [...awkward, null], awkward.filter((v) => !/[\t\n\u0001\ud800]/.test(v))]) {
        const { rows } = await client.query<{ values: (string | null)[] }>("select $1::text[] as values", [array(values)]);
        expect(rows[0]!.values).toEqual(values.map(stored));
      }
      const { rows } = await client.query<{ values: string[] }>("select $1::bigint[]::text[] as values", [array([0, 9007199254740991])]);
      expect(rows[0]!.values).toEqual(["0", "9007199254740991"]);
    } finally {
      await client.end();
    }
  });
});

describe("literal", () => {
  it("counts the placeholders against the parameters", () => {
    expect(withLiterals("select ? where ? = any(?)", [1, "it's", ["a", null]])).toBe(`select '1' where 'it''s' = any('{"a",null}')`);
    expect(() => withLiterals("select ?, ?", [1])).toThrow("more placeholders than its 1 parameters");
    expect(() => withLiterals("select ?", [1, 2])).toThrow("1 placeholders for 2 parameters");
  });

  it("refuses values it has no literal for", () => {
    expect(() => literal(Number.NaN)).toThrow("not a finite number");
    expect(() => literal({})).toThrow("no literal here: object");
    expect(() => literal([true])).toThrow("neither a string nor a finite number");
  });

  it.skipIf(!POSTGRES_URL)("round-trips any strings, numbers, nulls and arrays of them through PostgreSQL", async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      for (const conforming of ["on", "off"]) {
        await client.query(`set standard_conforming_strings = ${conforming}`);
        for (const value of awkward) {
          const { rows } = await client.query<{ value: string }>(`select ${literal(value)}::text as value`);
          expect(rows[0]!.value, `${JSON.stringify(value)} with standard_conforming_strings ${conforming}`).toBe(stored(value));
        }
        for (const values of [awkward, [...awkward, null], awkward.filter((v) => !/[\t\n\u0001\ud800]/.test(v))]) {
          const { rows } = await client.query<{ values: (string | null)[] }>(`select ${literal(values)}::text[] as values`);
          expect(rows[0]!.values).toEqual(values.map(stored));
        }
      }
      const { rows } = await client.query<{ n: string; none: null; ids: string[] }>(
        `select ${literal(-9007199254740991)}::bigint::text as n, ${literal(null)}::text as none, ${literal([0, -5, 2.5])}::float8[]::text[] as ids`,
      );
      expect(rows[0]).toEqual({ n: "-9007199254740991", none: null, ids: ["0", "-5", "2.5"] });
    } finally {
      await client.end();
    }
  });
});
