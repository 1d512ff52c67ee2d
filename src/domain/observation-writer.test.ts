import pg from "pg";
import { describe, expect, it } from "vitest";
import { array } from "./observation-writer.js";

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
        // PostgreSQL stores a lone surrogate as the replacement character, like any UTF-8 encoder.
        expect(rows[0]!.values).toEqual(values.map((v) => (v === null ? null : Buffer.from(v).toString())));
      }
      const { rows } = await client.query<{ values: string[] }>("select $1::bigint[]::text[] as values", [array([0, 9007199254740991])]);
      expect(rows[0]!.values).toEqual(["0", "9007199254740991"]);
    } finally {
      await client.end();
    }
  });
});
