import { Ajv } from "ajv";
import { NO_INDUSTRY } from "../../domain/reference-data.js";
import type { ChartPage, ChartPageRequest, CreativeCenterClient, FetchedRow } from "./client.js";
import { countryInfo, industryInfo } from "../../domain/chart-service.js";
import { count, timestampDay } from "./normalize.js";
import { describeInvalid, UpstreamError } from "./upstream-error.js";
import { BROWSER_USER_AGENT, DEFAULT_TIMEOUT_MS, fetchJson } from "./upstream-http.js";

export interface Gen2Options {
  /** Where the upstream answers, e.g. `https://ads.tiktok.com`. */
  readonly baseUrl: string;
  /** A logged-in session (cookie `sessionid` and its CSRF token); without it, only 3 rows per chart. */
  readonly session?: { readonly sessionId: string; readonly csrfToken: string } | undefined;
  readonly timeoutMs?: number;
}

const PATH = "/CreativeOne/KnowledgeAPI/GetHashtagList";
const INVALID_LOGIN = 38001001;

const digits = { type: "string", pattern: "^[0-9]{1,15}$" } as const;
const countValue = { anyOf: [{ type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, digits] } as const;

const itemSchema = {
  type: "object",
  required: ["hashtagID", "hashtagName", "rankIndex", "publishCnt", "vv", "industryIDs", "topCreators", "popularityCurve"],
  properties: {
    hashtagID: { type: "string", pattern: "^[0-9]{1,19}$" },
    hashtagName: { type: "string", minLength: 1, maxLength: 200, pattern: "^[^#\\s]+$" },
    rankIndex: { type: "integer", minimum: 1, maximum: 100 },
    publishCnt: countValue,
    vv: countValue,
    industryIDs: { type: "array", items: countValue },
    isPromoted: { type: "boolean" },
    topCreators: {
      type: "array",
      items: {
        type: "object",
        required: ["handleName"],
        properties: {
          handleName: { type: "string", minLength: 1 },
          nickname: { type: "string" },
          avatarURL: { type: "string" },
          creatorRank: { type: "integer" },
        },
      },
    },
    popularityCurve: {
      type: "array",
      items: {
        type: "object",
        required: ["timestamp", "value"],
        properties: { timestamp: countValue, value: { type: "number", minimum: 0, maximum: 100 } },
      },
    },
  },
} as const;

const answerSchema = {
  type: "object",
  required: ["BaseResp"],
  properties: {
    BaseResp: {
      type: "object",
      required: ["StatusCode"],
      properties: { StatusCode: { type: "integer" }, StatusMessage: { type: "string" } },
    },
    items: { type: "array" },
    pagination: {
      type: "object",
      required: ["totalCount", "hasMore"],
      properties: { totalCount: { type: "integer", minimum: 0 }, hasMore: { type: "boolean" } },
    },
  },
} as const;

interface Gen2Item {
  hashtagID: string;
  hashtagName: string;
  rankIndex: number;
  publishCnt: number | string;
  vv: number | string;
  industryIDs: (number | string)[];
  isPromoted?: boolean;
  topCreators: { handleName: string; nickname?: string; avatarURL?: string; creatorRank?: number }[];
  popularityCurve: { timestamp: number | string; value: number }[];
}

interface Gen2Answer {
  BaseResp: { StatusCode: number; StatusMessage?: string };
  items?: unknown[];
  pagination?: { totalCount: number; hasMore: boolean };
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validateAnswer = ajv.compile<Gen2Answer>(answerSchema);
const validateItem = ajv.compile<Gen2Item>(itemSchema);

/**
 * Generation 2 ("KnowledgeAPI", 2026 on): one POST per page. Logged out it silently answers only the
 * top 3 rows of a chart; with a session cookie and its CSRF token, 100 rows over 5 pages of 20.
 */
export function createGen2Client(options: Gen2Options): CreativeCenterClient {
  const url = new URL(PATH, options.baseUrl).toString();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const base = new URL(options.baseUrl).origin;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": BROWSER_USER_AGENT,
    origin: base,
    referer: `${base}/creative/creativeCenter/trends/hashtag`,
    // 64-bit integers as strings: a JavaScript number would round them.
    "agw-js-conv": "str",
  };
  if (options.session) {
    headers.cookie = `sessionid=${options.session.sessionId}; csrftoken=${options.session.csrfToken}`;
    headers["x-secsdk-csrf-token"] = options.session.csrfToken;
  }

  return {
    source: "creative_center_gen2",
    pageSize: 20,
    preview: options.session === undefined,
    allRegions: false,
    async fetchPage(request: ChartPageRequest, signal?: AbortSignal): Promise<ChartPage> {
      const body: Record<string, unknown> = {
        countryCode: request.region,
        timeRange: request.period,
        page: request.page,
        limit: request.limit,
      };
      if (request.industry !== NO_INDUSTRY) body.industryID = Number(request.industry);
      const answer = await fetchJson(url, { method: "POST", headers, body: JSON.stringify(body) }, timeoutMs, signal);
      if (typeof answer === "object" && answer !== null && "code" in answer && !("BaseResp" in answer)) {
        throw new UpstreamError("invalid_request", `the upstream refused the query: ${JSON.stringify(answer).slice(0, 200)}`);
      }
      if (!validateAnswer(answer)) throw new UpstreamError("malformed", `unexpected answer: ${describeInvalid(validateAnswer.errors)}`);
      const status = answer.BaseResp.StatusCode;
      if (status === INVALID_LOGIN) throw new UpstreamError("login", `the session is not logged in (StatusCode ${INVALID_LOGIN})`);
      if (status !== 0) throw new UpstreamError("invalid_request", `StatusCode ${status}: ${answer.BaseResp.StatusMessage ?? ""}`);
      const items = answer.items ?? [];
      const rows = items.map((item, i): FetchedRow => {
        if (!validateItem(item))
          throw new UpstreamError("invalid_row", `row ${i + 1} of page ${request.page}: ${describeInvalid(validateItem.errors)}`);
        const industry = item.industryIDs[0];
        return {
          hashtag_id: item.hashtagID,
          hashtag_name: item.hashtagName,
          country_info: countryInfo(request.region),
          industry_info: industryInfo(industry === undefined ? undefined : count(industry)),
          is_promoted: item.isPromoted ?? false,
          creators: [...item.topCreators]
            .sort((a, b) => (a.creatorRank ?? 0) - (b.creatorRank ?? 0))
            .slice(0, 3)
            .map((c) => ({ nick_name: c.nickname || c.handleName, avatar_url: c.avatarURL ?? "" })),
          publish_cnt: count(item.publishCnt),
          video_views: count(item.vv),
          rank: item.rankIndex,
          curve: item.popularityCurve.map((p) => ({ day: timestampDay(p.timestamp), value: p.value })),
        };
      });
      return { rows, total: answer.pagination?.totalCount ?? rows.length, hasMore: answer.pagination?.hasMore ?? false };
    },
  };
}
