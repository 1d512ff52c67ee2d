import { createHash } from "node:crypto";
import { Ajv } from "ajv";
import type { Parsed } from "./observation.js";
import { normalizeHashtag } from "./observation.js";
import { findIndustry } from "./reference-data.js";

export interface CatalogItem {
  readonly name: string;
  readonly hashtagId: string;
  readonly industryId: number | null;
  readonly isPromoted: boolean;
}

const catalogSchema = {
  type: "object",
  required: ["hashtag_name", "hashtag_id"],
  properties: {
    hashtag_name: { type: "string", minLength: 1, maxLength: 200 },
    hashtag_id: { type: "string", pattern: "^[0-9]{1,19}$" },
    industry_id: { type: ["integer", "null"] },
    is_promoted: { type: "boolean" },
  },
} as const;

const validateEntry = new Ajv({ strict: true }).compile(catalogSchema);

/** Validates one hashtag catalog entry (`hashtag_name`, `hashtag_id`, `industry_id`, `is_promoted`). */
export function parseCatalogEntry(input: unknown): Parsed<CatalogItem> {
  if (!validateEntry(input)) {
    const error = validateEntry.errors?.[0];
    const field = error?.instancePath.replace(/^\//, "") ?? "";
    if (error?.keyword === "required") return { ok: false, reason: `missing field ${String(error.params.missingProperty)}` };
    if (field === "hashtag_id") return { ok: false, reason: "hashtag_id must be a string of up to 19 digits" };
    return { ok: false, reason: field === "" ? "not a JSON object" : `${field} ${error?.message ?? "is invalid"}` };
  }
  const entry = input as { hashtag_name: string; hashtag_id: string; industry_id?: number | null; is_promoted?: boolean };
  const name = normalizeHashtag(entry.hashtag_name);
  if (name === "") return { ok: false, reason: "hashtag_name is empty" };
  const industryId = entry.industry_id ?? null;
  if (industryId !== null && !findIndustry(industryId)) {
    return { ok: false, reason: `industry_id ${industryId} is not a first-level industry` };
  }
  return { ok: true, value: { name, hashtagId: entry.hashtag_id, industryId, isPromoted: entry.is_promoted ?? false } };
}

/** The id of a hashtag missing from the catalog: stable, derived from its name, at most 19 digits. */
export function derivedHashtagId(name: string): string {
  const digest = createHash("sha256").update(name).digest();
  return (digest.readBigUInt64BE(0) >> 1n).toString();
}
