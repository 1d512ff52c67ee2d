import { createRequire } from "node:module";
import type { ErrorObject, ValidateFunction } from "ajv";
import { REGION_ALIASES } from "./reference-data.js";

/**
 * A video observation as it arrives: what one public video looked like at one moment. Field names
 * follow the TikTok Research API video object (see docs/observations.md).
 */
export interface ObservationRecord {
  id: string;
  create_time: number;
  region_code: string;
  hashtag_names: string[];
  username: string;
  view_count: number;
  observed_at: number;
  nick_name?: string | null;
  avatar_url?: string | null;
}

/** One row of the hashtag catalog: where a hashtag's id, industry and promoted flag come from. */
export interface CatalogEntry {
  hashtag_name: string;
  hashtag_id: string;
  industry_id: number | null;
  is_promoted: boolean;
}

/** An observation after validation: region upper-case, hashtags lower-case, unique and sorted. */
export interface Observation {
  readonly videoId: string;
  readonly createTime: number;
  readonly region: string;
  readonly hashtags: readonly string[];
  readonly username: string;
  readonly viewCount: number;
  readonly observedAt: number;
  readonly nickName: string | null;
  readonly avatarUrl: string | null;
}

/** The bounds every observation is held to, shared by the schema and the fast line scanner. */
export const OBSERVATION_LIMITS = {
  maxUnixSeconds: 253402300799,
  maxIdDigits: 20,
  maxHashtags: 200,
  maxHashtagLength: 200,
  maxUsernameLength: 100,
  maxNickNameLength: 200,
  maxAvatarUrlLength: 4096,
} as const;

const unixSeconds = { type: "integer", minimum: 0, maximum: OBSERVATION_LIMITS.maxUnixSeconds } as const;

const observationSchema = {
  type: "object",
  required: ["id", "create_time", "region_code", "hashtag_names", "username", "view_count", "observed_at"],
  properties: {
    id: { type: "string", pattern: `^[0-9]{1,${OBSERVATION_LIMITS.maxIdDigits}}$` },
    create_time: unixSeconds,
    region_code: { type: "string", pattern: "^[A-Za-z]{2}$" },
    hashtag_names: {
      type: "array",
      maxItems: OBSERVATION_LIMITS.maxHashtags,
      items: { type: "string", minLength: 1, maxLength: OBSERVATION_LIMITS.maxHashtagLength },
    },
    username: { type: "string", minLength: 1, maxLength: OBSERVATION_LIMITS.maxUsernameLength },
    view_count: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    observed_at: unixSeconds,
    nick_name: { type: ["string", "null"], maxLength: OBSERVATION_LIMITS.maxNickNameLength },
    avatar_url: { type: ["string", "null"], maxLength: OBSERVATION_LIMITS.maxAvatarUrlLength },
  },
} as const;

let validator: ValidateFunction<ObservationRecord> | undefined;

/**
 * The schema's validator, loaded and compiled on first use: a reading thread that finds every line in the
 * form its scanner reads never needs it, and starts 0.1 s sooner without it.
 */
function validateObservation(input: unknown): input is ObservationRecord {
  if (!validator) {
    const { Ajv } = createRequire(import.meta.url)("ajv") as typeof import("ajv");
    validator = new Ajv({ allErrors: false, strict: true }).compile<ObservationRecord>(observationSchema);
  }
  return validator(input);
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Validates and normalizes one observation; the reason names the field at fault. */
export function parseObservation(input: unknown): Parsed<Observation> {
  if (!validateObservation(input)) return { ok: false, reason: describeError(validator!.errors?.[0]) };
  const record = input;
  if (record.observed_at < record.create_time) {
    return { ok: false, reason: "observed_at is before create_time" };
  }
  const hashtags = new Set<string>();
  for (const raw of record.hashtag_names) {
    const name = normalizeHashtag(raw);
    if (name === "") return { ok: false, reason: "hashtag_names holds an empty name" };
    hashtags.add(name);
  }
  return {
    ok: true,
    value: {
      videoId: record.id,
      createTime: record.create_time,
      region: normalizeRegion(record.region_code),
      hashtags: [...hashtags].sort(),
      username: record.username,
      viewCount: record.view_count,
      observedAt: record.observed_at,
      nickName: record.nick_name ?? null,
      avatarUrl: record.avatar_url ?? null,
    },
  };
}

/** Region codes are case-insensitive; a few have aliases (`UK` is `GB`). */
export function normalizeRegion(code: string): string {
  const upper = code.toUpperCase();
  return REGION_ALIASES[upper] ?? upper;
}

/** Hashtag names are case-insensitive and written without `#`. */
export function normalizeHashtag(name: string): string {
  return name.trim().replace(/^#+/, "").trim().toLowerCase();
}

function describeError(error: ErrorObject | undefined): string {
  if (!error) return "invalid observation";
  const field = error.instancePath
    .replace(/^\//, "")
    .replace(/\/(\d+)$/, "[$1]")
    .replace(/\//g, ".");
  switch (error.keyword) {
    case "required":
      return `missing field ${String(error.params.missingProperty)}`;
    case "type":
      return field === "" ? "not a JSON object" : `${field} must be ${describeType(String(error.params.type))}`;
    case "pattern":
      return field === "id"
        ? "id must be a string of digits"
        : field === "region_code"
          ? "region_code must be a two-letter country code"
          : `${field} has an unsupported format`;
    case "minimum":
    case "maximum":
      return `${field} is out of range`;
    default:
      return `${field} ${error.message ?? "is invalid"}`;
  }
}

function describeType(type: string): string {
  if (type === "integer") return "an integer";
  if (type === "array") return "an array";
  if (type === "object") return "an object";
  return `a ${type.replace(",", " or ")}`;
}
