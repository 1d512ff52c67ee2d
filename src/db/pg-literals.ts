/**
 * PostgreSQL literals, for array parameters that would be costly to quote element by element, and for
 * statements that take no parameters (COPY).
 */

/**
 * An array parameter as PostgreSQL's array literal, written by JSON.stringify when that gives the
 * same text: strings with no backslash escape other than \" and \\ (JSON writes control characters
 * and lone surrogates as escapes the literal would misread). Much cheaper than the driver's
 * element-by-element quoting; other arrays are left to the driver.
 */
export function array(values: readonly (string | number | null)[]): string | readonly (string | number | null)[] {
  const json = JSON.stringify(values);
  return hasOtherEscape(json) ? values : `{${json.slice(1, -1)}}`;
}

/**
 * Whether JSON text holds an escape other than \" and \\, found by jumping from backslash to
 * backslash: these texts run to megabytes, usually without any, and a regular expression over them
 * would copy them.
 */
function hasOtherEscape(json: string): boolean {
  for (let i = json.indexOf("\\"); i !== -1; i = json.indexOf("\\", i + 2)) {
    const next = json.charCodeAt(i + 1);
    if (next !== 34 && next !== 92) return true; // not " or \
  }
  return false;
}

/** `sqlText` with each `?` replaced by the literal of the next of `params`. */
export function withLiterals(sqlText: string, params: readonly unknown[]): string {
  let n = 0;
  const text = sqlText.replace(/\?/g, () => {
    if (n === params.length) throw new Error(`the statement has more placeholders than its ${params.length} parameters`);
    return literal(params[n++]);
  });
  if (n < params.length) throw new Error(`the statement has ${n} placeholders for ${params.length} parameters`);
  return text;
}

/**
 * The literal of a number, a string, null, or an array of them, as a quoted string typed by its
 * context, as a parameter would be.
 */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`a statement parameter is ${value}, not a finite number`);
    return `'${value}'`;
  }
  if (typeof value === "bigint") return `'${value}'`;
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) {
    const text = array(value.map(arrayValue));
    return quote(typeof text === "string" ? text : `{${text.map(arrayElement).join(",")}}`);
  }
  throw new TypeError(`a statement parameter is of a type with no literal here: ${typeof value}`);
}

function arrayValue(value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  throw new TypeError(`an array parameter holds ${String(value)}, neither a string nor a finite number`);
}

function arrayElement(value: string | number | null): string {
  if (value === null) return "NULL";
  return typeof value === "number" ? String(value) : `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

/**
 * `text` quoted as a string literal, whatever the server's standard_conforming_strings: with its
 * backslashes doubled in an escape string when it has any.
 */
function quote(text: string): string {
  const body = text.replaceAll("'", "''");
  return text.includes("\\") ? ` E'${body.replaceAll("\\", "\\\\")}'` : `'${body}'`;
}
