import { PERIODS } from "../domain/chart-model.js";
import { ALL_REGIONS, INDUSTRIES, NO_INDUSTRY, REGION_ALIASES, REGIONS } from "../domain/reference-data.js";

/**
 * JSON schemas of the public API: they validate requests, serialize responses and make the OpenAPI
 * document, so a field exists on the wire only if it is declared here. Key order is wire order.
 */

/** A pattern that matches any of `values` in any letter case (JSON-schema patterns take no flags). */
function anyCase(values: readonly string[]): string {
  const letters = (value: string) =>
    [...value]
      .map((c) =>
        c.toLowerCase() === c.toUpperCase() ? c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : `[${c.toLowerCase()}${c.toUpperCase()}]`,
      )
      .join("");
  return `^(${values.map(letters).join("|")})$`;
}

const REGION_CODES = [ALL_REGIONS, ...REGIONS.map((r) => r.id), ...Object.keys(REGION_ALIASES)];
const INDUSTRY_IDS = [NO_INDUSTRY, ...INDUSTRIES.map((i) => String(i.id))];

export const trendingQuerySchema = {
  type: "object",
  properties: {
    page: { type: "string", pattern: "^[0-9]+$", default: "1", description: "Page number, from 1. A page past the end is an empty list." },
    limit: {
      type: "string",
      pattern: "^[0-9]+$",
      default: "20",
      description: "Rows per page, from 1; above 20 it is clamped to 20.",
    },
    period: { type: "string", enum: PERIODS.map(String), default: "7", description: "Window in days." },
    region: {
      type: "string",
      pattern: anyCase(REGION_CODES),
      default: ALL_REGIONS,
      description: `all_regions or a supported country code, any letter case (UK means GB): ${REGION_CODES.join(", ")}.`,
    },
    industry_id: {
      type: "string",
      pattern: anyCase(INDUSTRY_IDS),
      default: NO_INDUSTRY,
      description: "nothing (no filter) or a first-level industry id, as listed by /v1/tiktok/trending/industries.",
    },
    new_to_top_100: {
      type: "string",
      pattern: anyCase(["true", "false"]),
      default: "false",
      description: "true keeps only hashtags that entered this chart's top 100 for the first time, with their chart ranks.",
    },
  },
};

const countryInfo = {
  type: "object",
  properties: { id: { type: "string" }, value: { type: "string" }, label: { type: "string" } },
  required: ["id", "value", "label"],
};

/** The fields of a chart row, in wire order: every one is always sent. */
const chartItemProperties = {
  hashtag_id: { type: "string", description: "Stable id of the hashtag, digits (up to 19: never a number)." },
  hashtag_name: { type: "string", description: "Without #." },
  country_info: {
    ...countryInfo,
    description: "The chart's country; for all_regions, the country where the hashtag drew the most views in the window.",
  },
  industry_info: {
    type: "object",
    description: 'The hashtag\'s first-level industry, or {"id":"","value":"","label":""} when none is known.',
    properties: {
      id: { anyOf: [{ type: "integer" }, { type: "string", enum: [""] }] },
      value: { type: "string" },
      label: { type: "string" },
    },
    required: ["id", "value", "label"],
  },
  is_promoted: { type: "boolean" },
  trend: {
    type: "array",
    description: "Popularity over the window: daily points for 7 and 30 days, weekly for 120; the peak is 1.",
    items: {
      type: "object",
      properties: {
        time: { type: "integer", description: "00:00 UTC, unix seconds." },
        value: { type: "number", minimum: 0, maximum: 1 },
      },
      required: ["time", "value"],
    },
  },
  creators: {
    type: "array",
    maxItems: 3,
    items: {
      type: "object",
      properties: { nick_name: { type: "string" }, avatar_url: { type: "string" } },
      required: ["nick_name", "avatar_url"],
    },
  },
  publish_cnt: { type: "integer", description: "Videos with the hashtag published in the window." },
  video_views: { type: "integer", description: "Views gained in the window by videos with the hashtag." },
  rank: { type: "integer", minimum: 1, maximum: 100 },
  rank_diff: { type: ["integer", "null"], description: "Places moved since the previous day's chart; null when new to it." },
  rank_diff_type: { type: "integer", enum: [1, 2, 3, 4], description: "1 up, 2 unchanged, 3 down, 4 new in this chart's top 100." },
};

export const chartItemSchema = { type: "object", properties: chartItemProperties, required: Object.keys(chartItemProperties) };

const requestId = { type: "string", description: "Also sent as the X-Request-Id header." };

/** The success envelope around `data`. */
export function successSchema(data: object, description: string) {
  return {
    description,
    type: "object",
    properties: { code: { type: "integer", enum: [0] }, message: { type: "string" }, data, requestId },
    required: ["code", "message", "data", "requestId"],
  };
}

export const errorSchema = {
  description: "An error: code is the HTTP status, data is null, error names the type and, when there is one, the parameter at fault.",
  type: "object",
  properties: {
    code: { type: "integer" },
    message: { type: "string" },
    data: { type: "null" },
    requestId,
    error: {
      type: "object",
      properties: { type: { type: "string" }, param: { type: "string" } },
      required: ["type"],
    },
  },
  required: ["code", "message", "data", "requestId", "error"],
};

export const trendingDataSchema = {
  type: "object",
  properties: {
    list: { type: "array", items: chartItemSchema },
    pagination: {
      type: "object",
      properties: {
        page: { type: "integer" },
        size: { type: "integer", description: "Rows on this page." },
        total: { type: "integer", description: "Rows in the chart (after the new_to_top_100 filter), at most 100." },
        has_more: { type: "boolean" },
      },
      required: ["page", "size", "total", "has_more"],
    },
    as_of: { type: "string", format: "date", description: "The chart's day (UTC)." },
    window_start: { type: "string", format: "date", description: "First day of the chart's window." },
    window_end: { type: "string", format: "date", description: "Last day of the chart's window: the as-of day." },
    source: {
      type: "string",
      enum: ["engine", "creative_center"],
      description: "Where the chart comes from: computed by tagpulse's engine, or collected from TikTok Creative Center.",
    },
    collected_at: {
      type: ["string", "null"],
      format: "date-time",
      description: "When a collected chart was fetched from Creative Center (its age); null for the engine's.",
    },
    complete: {
      type: "boolean",
      description: "False for a collected preview: only the top rows Creative Center shows logged-out visitors.",
    },
  },
  required: ["list", "pagination", "as_of", "window_start", "window_end", "source", "collected_at", "complete"],
};

export const referenceListSchema = (item: object) => ({
  type: "object",
  properties: { list: { type: "array", items: item } },
  required: ["list"],
});

export const regionItemSchema = countryInfo;

export const industryItemSchema = {
  type: "object",
  properties: { id: { type: "integer" }, value: { type: "string" }, label: { type: "string" } },
  required: ["id", "value", "label"],
};

const isoTime = { type: "string", format: "date-time" };
const nullableIsoTime = { type: ["string", "null"], format: "date-time" };

export const accountSchema = {
  type: "object",
  properties: {
    id: { type: "string", description: "acct_…" },
    name: { type: "string" },
    balance: { type: "integer", description: "Credits left." },
    created_at: isoTime,
  },
  required: ["id", "name", "balance", "created_at"],
};

export const apiKeySchema = {
  type: "object",
  description: "An API key as stored: its secret is shown only once, when it is created.",
  properties: {
    id: { type: "string", description: "key_…" },
    account_id: { type: "string" },
    name: { type: "string" },
    prefix: { type: "string", description: "The first characters of the key, to recognise it by." },
    rate_limit: { type: ["integer", "null"], description: "Requests per minute; null for the server's default." },
    created_at: isoTime,
    last_used_at: { ...nullableIsoTime, description: "Within a minute of the last call." },
    revoked_at: nullableIsoTime,
  },
  required: ["id", "account_id", "name", "prefix", "rate_limit", "created_at", "last_used_at", "revoked_at"],
};

export const ledgerEntrySchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    account_id: { type: "string" },
    kind: { type: "string", enum: ["grant", "charge", "refund"] },
    amount: { type: "integer", description: "Positive for grants and refunds, negative for charges." },
    balance_after: { type: "integer" },
    reason: { type: "string" },
    key_id: { type: ["string", "null"] },
    request_id: { type: ["string", "null"] },
    created_at: isoTime,
  },
  required: ["id", "account_id", "kind", "amount", "balance_after", "reason", "key_id", "request_id", "created_at"],
};

export const usageReportSchema = {
  type: "object",
  properties: {
    recent: {
      type: "array",
      items: {
        type: "object",
        properties: {
          request_id: { type: "string" },
          key_id: { type: "string" },
          method: { type: "string" },
          route: { type: "string" },
          status: { type: "integer" },
          cost: { type: "integer", description: "Credits charged: the route's cost for a 200, else 0." },
          latency_ms: { type: "number" },
          created_at: isoTime,
        },
        required: ["request_id", "key_id", "method", "route", "status", "cost", "latency_ms", "created_at"],
      },
    },
    daily: {
      type: "array",
      items: {
        type: "object",
        properties: {
          day: { type: "string", format: "date" },
          calls: { type: "integer" },
          charged_calls: { type: "integer" },
          credits: { type: "integer" },
        },
        required: ["day", "calls", "charged_calls", "credits"],
      },
    },
  },
  required: ["recent", "daily"],
};
