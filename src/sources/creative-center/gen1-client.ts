import { Ajv } from "ajv";
import { ALL_REGIONS, NO_INDUSTRY } from "../../domain/reference-data.js";
import type { ChartPage, ChartPageRequest, CreativeCenterClient, FetchedRow } from "./client.js";
import { countryInfo, industryInfo } from "../../domain/chart-service.js";
import { timestampDay } from "./normalize.js";
import { describeInvalid, UpstreamError } from "./upstream-error.js";
import { DEFAULT_TIMEOUT_MS, fetchJson } from "./upstream-http.js";

export interface Gen1Options {
  readonly baseUrl: string;
  /**
   * The header set of a logged-in browser session, captured by the operator: `user-sign`,
   * `anonymous-user-id`, `web-id`, `cookie` and the like. `timestamp` is renewed on every call.
   */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

const PATH = "/creative_radar_api/v1/popular_trend/hashtag/list";
const NO_PERMISSION = 40101;

const info = (id: object) => ({
  type: "object",
  required: ["id", "value", "label"],
  properties: { id, value: { type: "string" }, label: { type: "string" } },
});

/** Every field of the public contract's row, all required: generation 1 sends exactly these. */
const itemProperties = {
  hashtag_id: { type: "string", pattern: "^[0-9]{1,19}$" },
  hashtag_name: { type: "string", minLength: 1, maxLength: 200, pattern: "^[^#\\s]+$" },
  country_info: info({ type: "string" }),
  industry_info: info({ anyOf: [{ type: "integer" }, { const: "" }] }),
  is_promoted: { type: "boolean" },
  trend: {
    type: "array",
    items: {
      type: "object",
      required: ["time", "value"],
      properties: { time: { type: "integer", minimum: 0 }, value: { type: "number", minimum: 0, maximum: 1 } },
    },
  },
  creators: {
    type: "array",
    items: { type: "object", required: ["nick_name"], properties: { nick_name: { type: "string" }, avatar_url: { type: "string" } } },
  },
  publish_cnt: { type: "integer", minimum: 0 },
  video_views: { type: "integer", minimum: 0 },
  rank: { type: "integer", minimum: 1, maximum: 100 },
  rank_diff: { type: ["integer", "null"], minimum: 0 },
  rank_diff_type: { enum: [1, 2, 3, 4] },
} as const;

const itemSchema = { type: "object", required: Object.keys(itemProperties), properties: itemProperties } as const;

const answerSchema = {
  type: "object",
  required: ["code"],
  properties: {
    code: { type: "integer" },
    msg: { type: "string" },
    data: {
      type: "object",
      required: ["list", "pagination"],
      properties: {
        list: { type: "array" },
        pagination: {
          type: "object",
          required: ["total", "has_more"],
          properties: { total: { type: "integer" }, has_more: { type: "boolean" } },
        },
      },
    },
  },
} as const;

interface Gen1Item {
  hashtag_id: string;
  hashtag_name: string;
  country_info: { id: string; value: string; label: string };
  industry_info: { id: number | ""; value: string; label: string };
  is_promoted: boolean;
  trend: { time: number; value: number }[];
  creators: { nick_name: string; avatar_url?: string }[];
  publish_cnt: number;
  video_views: number;
  rank: number;
  rank_diff: number | null;
  rank_diff_type: 1 | 2 | 3 | 4;
}

interface Gen1Answer {
  code: number;
  msg?: string;
  data?: { list: unknown[]; pagination: { total: number; has_more: boolean } };
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validateAnswer = ajv.compile<Gen1Answer>(answerSchema);
const validateItem = ajv.compile<Gen1Item>(itemSchema);

/**
 * Generation 1 ("creative_radar_api", about 2022 to mid 2026): GET per page with the header set of a
 * browser session, which nobody outside TikTok can mint; it works until the session expires. Its rows
 * are already in the public contract's shape, movement included.
 */
export function createGen1Client(options: Gen1Options): CreativeCenterClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    source: "creative_center_gen1",
    pageSize: 20,
    preview: false,
    allRegions: true,
    async fetchPage(request: ChartPageRequest, signal?: AbortSignal): Promise<ChartPage> {
      const url = new URL(PATH, options.baseUrl);
      url.search = new URLSearchParams({
        page: String(request.page),
        limit: String(request.limit),
        period: String(request.period),
        country_code: request.region === ALL_REGIONS ? "" : request.region,
        industry_id: request.industry === NO_INDUSTRY ? "" : request.industry,
        sort_by: "popular",
      }).toString();
      const headers = { lang: "en", ...options.headers, timestamp: String(Math.floor(Date.now() / 1000)) };
      const answer = await fetchJson(url.toString(), { headers }, timeoutMs, signal);
      if (!validateAnswer(answer)) throw new UpstreamError("malformed", `unexpected answer: ${describeInvalid(validateAnswer.errors)}`);
      if (answer.code === NO_PERMISSION)
        throw new UpstreamError("login", `no permission (code ${NO_PERMISSION}): the captured session has expired`);
      if (answer.code !== 0 || !answer.data) throw new UpstreamError("invalid_request", `code ${answer.code}: ${answer.msg ?? ""}`);
      const rows = answer.data.list.map((item, i): FetchedRow => {
        if (!validateItem(item))
          throw new UpstreamError("invalid_row", `row ${i + 1} of page ${request.page}: ${describeInvalid(validateItem.errors)}`);
        return {
          hashtag_id: item.hashtag_id,
          hashtag_name: item.hashtag_name,
          country_info: countryInfo(item.country_info.id),
          industry_info: industryInfo(item.industry_info.id === "" ? undefined : item.industry_info.id),
          is_promoted: item.is_promoted,
          creators: item.creators.slice(0, 3).map((c) => ({ nick_name: c.nick_name, avatar_url: c.avatar_url ?? "" })),
          publish_cnt: item.publish_cnt,
          video_views: item.video_views,
          rank: item.rank,
          rank_diff: item.rank_diff,
          rank_diff_type: item.rank_diff_type,
          curve: item.trend.map((p) => ({ day: timestampDay(p.time), value: p.value })),
        };
      });
      return { rows, total: answer.data.pagination.total, hasMore: answer.data.pagination.has_more };
    },
  };
}
