/**
 * A fake TikTok Creative Center: both generations of its trending-hashtags endpoints, answered from a
 * deterministic world, with the upstream's access rules (silent 3-row truncation for anonymous gen-2
 * callers, `no permission` for unsigned gen-1 ones) and faults that can be queued to make it misbehave
 * the way the real one does (throttling, refusals, cut or broken bodies, expired sessions, hangs).
 * The collector is tested against it, and `tagpulse fake-upstream` serves it for manual runs.
 *
 * @example
 * const upstream = createFakeUpstream({ seed: 42, asOf: "2026-01-27" });
 * const baseUrl = await upstream.listen();
 * upstream.inject({ kind: "throttle", retryAfterSeconds: 2 });
 * // ... run a client against baseUrl, then look at upstream.requests
 * await upstream.close();
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { ALL_REGIONS, INDUSTRIES, NO_INDUSTRY, REGIONS, type Region } from "../../domain/reference-data.js";
import { parseDay } from "../../lib/days.js";
import { createFakeWorld, FAKE_PERIODS, type FakeChartKey, type FakeChartRow, type FakePeriod } from "./fake-world.js";

export type { FakeChartRow, FakeCreator } from "./fake-world.js";

/** Paths of the fake, as the real Creative Center names them. */
export const FAKE_UPSTREAM_PATHS = {
  gen2List: "/CreativeOne/KnowledgeAPI/GetHashtagList",
  gen1List: "/creative_radar_api/v1/popular_trend/hashtag/list",
  gen1Filters: "/creative_radar_api/v1/popular_trend/hashtag/filters",
  faults: "/__fake/faults",
  requests: "/__fake/requests",
  asOf: "/__fake/as-of",
} as const;

export interface FakeUpstreamOptions {
  /** The world's seed: the same seed and day give the same charts. */
  seed: number;
  /** `YYYY-MM-DD`: the day of the charts served now (the last point of every curve). */
  asOf: string;
  /** The gen-2 login accepted; default `{ sessionId: "fake-session", csrfToken: "fake-csrf" }`. */
  session?: { sessionId: string; csrfToken: string };
  /** The `user-sign` header gen 1 accepts; default `0123456789abcdef`. */
  gen1Sign?: string;
  /** Faults queued from the start. */
  faults?: Fault[];
}

/** The ways the fake misbehaves, one per failure the real upstream is known for. */
export const FAULT_KINDS = [
  "throttle",
  "refuse",
  "server_error",
  "timeout",
  "truncate",
  "malformed",
  "bad_row",
  "empty",
  "expired_session",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A queued misbehaviour: it applies to the next `times` data requests of its generation. */
export interface Fault {
  kind: FaultKind;
  /** How many matching requests it applies to (default 1); Infinity allowed. */
  times?: number;
  /** Only requests of that generation (default: both). */
  generation?: 1 | 2;
  /** throttle: the Retry-After header value (default 1). */
  retryAfterSeconds?: number;
  /** timeout: how long the answer is held (default 60000); it is never sent if the connection closes first. */
  delayMs?: number;
}

/** One request the fake answered; `status` 0 when the connection closed before the answer. */
export interface FakeRequest {
  /** 1 or 2 for the upstream's routes, 0 for an unknown path. */
  generation: 1 | 2 | 0;
  path: string;
  /** The JSON body (gen 2) or the query (gen 1 and unknown paths). */
  params: Record<string, unknown>;
  loggedIn: boolean;
  status: number;
  fault: FaultKind | null;
  /** Arrival, in ms since the epoch. */
  at: number;
}

/** What `chart()` is asked for: region `all_regions` or a country, industry `nothing` or an id. */
export interface FakeChartQuery {
  region: string;
  period: 7 | 30 | 120;
  industry: string;
  /** `YYYY-MM-DD`; default the current as-of day. */
  day?: string;
}

export interface FakeUpstream {
  readonly app: FastifyInstance;
  /** Listens (default: any free port on 127.0.0.1) and resolves the base URL, e.g. `http://127.0.0.1:43123`. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops serving; requests held by a timeout fault are dropped and their connections closed. */
  close(): Promise<void>;
  /** Queues a fault: faults apply in order, each to `times` matching requests. */
  inject(fault: Fault): void;
  clearFaults(): void;
  /** Moves the world to another day (`YYYY-MM-DD`). */
  setAsOf(day: string): void;
  /** Every request answered, in answer order (control routes excluded). */
  readonly requests: readonly FakeRequest[];
  /** The world's truth for one chart: up to 100 rows in rank order (shared: treat as read-only). */
  chart(query: FakeChartQuery): FakeChartRow[];
}

const DEFAULT_SESSION = { sessionId: "fake-session", csrfToken: "fake-csrf" };
const DEFAULT_GEN1_SIGN = "0123456789abcdef";
/** Anonymous gen-2 callers see this many rows of any chart. */
const ANONYMOUS_ROWS = 3;
/** `new_on_board` looks back this far instead of over the whole history. */
const NEW_ON_BOARD_LOOKBACK = 30;
/** A malformed answer is this share of the real one, cut mid-JSON. */
const MALFORMED_SHARE = 0.4;

const INVALID_LOGIN = { BaseResp: { StatusCode: 38001001, StatusMessage: "InvalidLogin" } };
const INVALID_REQUEST = { code: "InvalidRequest" };

const ACCESS_DENIED_HTML =
  '<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n\nYou don\'t have permission to access "http&#58;&#47;&#47;ads&#46;tiktok&#46;com&#47;" on this server.<P>\nReference&#32;&#35;18&#46;5f3e1002&#46;1706000000&#46;2a1b3c4d\n</BODY>\n</HTML>\n';
const BAD_GATEWAY_HTML =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n";

interface QueuedFault {
  fault: Required<Omit<Fault, "generation">> & Pick<Fault, "generation">;
  remaining: number;
}

interface RequestState {
  at: number;
  loggedIn: boolean;
  fault: FaultKind | null;
  recorded: boolean;
}

interface RouteConfig {
  generation?: 1 | 2;
  control?: boolean;
}

/**
 * Checks one fault as given by a caller (a test, the control route, the CLI) and fills its defaults.
 * Throws an Error naming the offending field.
 */
export function parseFault(value: unknown): Fault {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("a fault must be an object with a kind");
  const v = value as Record<string, unknown>;
  if (typeof v.kind !== "string" || !(FAULT_KINDS as readonly string[]).includes(v.kind)) {
    throw new Error(`unknown fault kind ${JSON.stringify(v.kind)}: expected one of ${FAULT_KINDS.join(", ")}`);
  }
  // JSON has no Infinity, so control requests may spell it out.
  const times = v.times === undefined ? 1 : v.times === "Infinity" ? Infinity : v.times;
  if (typeof times !== "number" || !(times === Infinity || (Number.isInteger(times) && times >= 1))) {
    throw new Error("fault times must be an integer >= 1 or Infinity");
  }
  if (v.generation !== undefined && v.generation !== 1 && v.generation !== 2) throw new Error("fault generation must be 1 or 2");
  const retryAfterSeconds = v.retryAfterSeconds ?? 1;
  if (typeof retryAfterSeconds !== "number" || !Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0) {
    throw new Error("fault retryAfterSeconds must be an integer >= 0");
  }
  const delayMs = v.delayMs ?? 60_000;
  if (typeof delayMs !== "number" || !Number.isInteger(delayMs) || delayMs < 0) throw new Error("fault delayMs must be an integer >= 0");
  return {
    kind: v.kind as FaultKind,
    times,
    ...(v.generation === undefined ? {} : { generation: v.generation }),
    retryAfterSeconds,
    delayMs,
  };
}

function dayNumber(text: string, what: string): number {
  const day = parseDay(text);
  if (day === undefined) throw new Error(`${what} must be a YYYY-MM-DD date, got ${JSON.stringify(text)}`);
  return day;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

/** An integer from a JSON number or a string of digits, else NaN. */
function integerOf(value: unknown): number {
  if (typeof value === "number") return Number.isInteger(value) ? value : NaN;
  if (typeof value === "string" && /^\d{1,15}$/.test(value)) return Number(value);
  return NaN;
}

function isPeriod(value: number): value is FakePeriod {
  return (FAKE_PERIODS as readonly number[]).includes(value);
}

/** Upstream request ids: the UTC second, then random hex. */
function requestId(): string {
  return new Date().toISOString().replace(/\D/g, "").slice(0, 14) + randomBytes(9).toString("hex").toUpperCase();
}

function regionInfo(region: Region): { id: string; value: string; label: string } {
  return { id: region.id, value: region.value, label: region.label };
}

function gen2Item(row: FakeChartRow, digitsAsStrings: boolean): Record<string, unknown> {
  const n = (x: number) => (digitsAsStrings ? String(x) : x);
  return {
    hashtagID: row.hashtagId,
    hashtagName: row.name,
    rankIndex: row.rank,
    publishCnt: n(row.publishCnt),
    vv: n(row.views),
    industryIDs: row.industryId === null ? [] : [n(row.industryId)],
    topCreators: row.creators.map((c, i) => ({
      handleName: c.handleName,
      nickname: c.nickname,
      followedCnt: n(c.followedCnt),
      avatarURL: c.avatarURL,
      creatorRank: i + 1,
    })),
    popularityCurve: row.curve.map((p) => ({ timestamp: String(p.day), value: p.value })),
    isPromoted: row.promoted,
  };
}

/**
 * Builds the fake upstream (not listening yet: tests can use `app.inject()`).
 *
 * @example
 * const upstream = createFakeUpstream({ seed: 7, asOf: "2026-01-27", faults: [{ kind: "truncate", generation: 2 }] });
 * const res = await upstream.app.inject({ method: "POST", url: "/CreativeOne/KnowledgeAPI/GetHashtagList", payload: { countryCode: "US", timeRange: 7, page: 1 } });
 */
export function createFakeUpstream(options: FakeUpstreamOptions): FakeUpstream {
  const world = createFakeWorld(options.seed);
  const session = options.session ?? DEFAULT_SESSION;
  const gen1Sign = options.gen1Sign ?? DEFAULT_GEN1_SIGN;
  let asOf = dayNumber(options.asOf, "asOf");
  let queue: QueuedFault[] = [];
  const requests: FakeRequest[] = [];
  const states = new WeakMap<FastifyRequest, RequestState>();
  /** Requests held by a timeout fault, each with the function that lets go of it. */
  const held = new Set<() => void>();

  function inject(fault: Fault): void {
    const parsed = parseFault(fault);
    queue.push({ fault: parsed as QueuedFault["fault"], remaining: parsed.times! });
  }
  for (const fault of options.faults ?? []) inject(fault);

  function takeFault(generation: 1 | 2): QueuedFault["fault"] | undefined {
    const index = queue.findIndex((q) => q.fault.generation === undefined || q.fault.generation === generation);
    if (index < 0) return undefined;
    const queued = queue[index]!;
    queued.remaining -= 1;
    if (queued.remaining <= 0) queue.splice(index, 1);
    return queued.fault;
  }

  function chartKey(region: number, period: FakePeriod, industry: number): FakeChartKey {
    return { day: asOf, region, period, industry };
  }

  const app = Fastify({ logger: false, forceCloseConnections: true });

  function stateOf(request: FastifyRequest): RequestState {
    let state = states.get(request);
    if (!state) {
      state = { at: Date.now(), loggedIn: false, fault: null, recorded: false };
      states.set(request, state);
    }
    return state;
  }

  function record(request: FastifyRequest, status: number): void {
    const config = request.routeOptions.config as RouteConfig;
    if (config.control) return;
    const state = stateOf(request);
    if (state.recorded) return;
    state.recorded = true;
    const generation = config.generation ?? 0;
    const source = generation === 2 ? request.body : request.query;
    const params =
      typeof source === "object" && source !== null && !Array.isArray(source) ? { ...(source as Record<string, unknown>) } : {};
    requests.push({
      generation,
      path: request.url.split("?")[0]!,
      params,
      loggedIn: state.loggedIn,
      status,
      fault: state.fault,
      at: state.at,
    });
  }

  app.addHook("onRequest", async (request) => {
    stateOf(request);
  });
  app.addHook("onResponse", async (request, reply) => {
    record(request, reply.statusCode);
  });

  /** Waits `ms`; false when the client hung up or the fake is closing meanwhile. */
  function hold(reply: FastifyReply, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (answered: boolean) => {
        clearTimeout(timer);
        reply.raw.off("close", letGo);
        held.delete(letGo);
        resolve(answered);
      };
      const letGo = () => finish(false);
      const timer = setTimeout(() => finish(true), ms);
      held.add(letGo);
      reply.raw.once("close", letGo);
    });
  }

  function sendJson(reply: FastifyReply, body: unknown, status = 200): FastifyReply {
    return reply.code(status).type("application/json; charset=utf-8").send(JSON.stringify(body));
  }

  /**
   * Applies the faults that replace the whole answer. Returns "sent" when it answered, "dropped"
   * when the connection went away during a hold, and "go" when the normal answer should follow.
   */
  async function answerFault(
    fault: QueuedFault["fault"] | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    generation: 1 | 2,
  ): Promise<"sent" | "dropped" | "go"> {
    switch (fault?.kind) {
      case "throttle":
        reply.code(429).header("retry-after", String(fault.retryAfterSeconds)).type("text/plain; charset=utf-8").send("Too Many Requests");
        return "sent";
      case "refuse":
        reply.code(403).type("text/html").send(ACCESS_DENIED_HTML);
        return "sent";
      case "server_error":
        reply.code(502).type("text/html").send(BAD_GATEWAY_HTML);
        return "sent";
      case "expired_session":
        sendJson(reply, generation === 2 ? INVALID_LOGIN : { code: 40101, msg: "no permission", request_id: requestId() });
        return "sent";
      case "timeout":
        if (await hold(reply, fault.delayMs)) return "go";
        record(request, 0);
        reply.hijack();
        return "dropped";
      default:
        return "go";
    }
  }

  /** Cuts or breaks a normal answer as the content faults ask. */
  function sendBody(reply: FastifyReply, fault: FaultKind | undefined, body: unknown): FastifyReply {
    let text = JSON.stringify(body);
    if (fault === "malformed") text = text.slice(0, Math.floor(text.length * MALFORMED_SHARE));
    return reply.code(200).type("application/json; charset=utf-8").send(text);
  }

  function gen2Login(request: FastifyRequest): "anonymous" | "expired" | "ok" {
    const cookies = parseCookies(headerValue(request.headers.cookie));
    const sessionId = cookies.get("sessionid");
    if (!sessionId) return "anonymous";
    if (sessionId !== session.sessionId) return "expired";
    const secsdk = headerValue(request.headers["x-secsdk-csrf-token"]);
    const csrf = headerValue(request.headers["x-csrftoken"]);
    const csrfCookie = cookies.get("csrftoken");
    if (secsdk === session.csrfToken || (csrf !== undefined && csrf !== "" && csrf === csrfCookie)) return "ok";
    // A session cookie without its CSRF proof is refused the way a stale one is.
    return "expired";
  }

  app.post(FAKE_UPSTREAM_PATHS.gen2List, { config: { generation: 2 } satisfies RouteConfig }, async (request, reply) => {
    const state = stateOf(request);
    const contentType = headerValue(request.headers["content-type"]) ?? "";
    if (!/^application\/json\b/i.test(contentType)) return reply.code(415).type("text/plain").send("Unsupported Media Type");
    const login = gen2Login(request);
    state.loggedIn = login === "ok";
    const fault = takeFault(2);
    state.fault = fault?.kind ?? null;
    const outcome = await answerFault(fault, request, reply, 2);
    if (outcome === "sent") return reply;
    if (outcome === "dropped") return;
    if (login === "expired") return sendJson(reply, INVALID_LOGIN);

    const body = request.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) return sendJson(reply, INVALID_REQUEST);
    const b = body as Record<string, unknown>;
    const region = REGIONS.findIndex((r) => r.id === b.countryCode);
    const period = integerOf(b.timeRange);
    const page = b.page === undefined ? 1 : integerOf(b.page);
    const limit = b.limit === undefined ? 20 : integerOf(b.limit);
    let industry = -1;
    if (b.industryID !== undefined && b.industryID !== null && b.industryID !== "") {
      const id = integerOf(b.industryID);
      industry = INDUSTRIES.findIndex((i) => i.id === id);
      if (industry < 0) return sendJson(reply, INVALID_REQUEST);
    }
    if (region < 0 || !isPeriod(period) || !(page >= 1) || !(limit >= 1 && limit <= 100)) return sendJson(reply, INVALID_REQUEST);

    const rows = world.chart(chartKey(region, period, industry)).rows;
    let items: readonly FakeChartRow[];
    let totalCount: number;
    let hasMore: boolean;
    if (fault?.kind === "empty") {
      [items, totalCount, hasMore] = [[], 0, false];
    } else if (login === "anonymous" || fault?.kind === "truncate") {
      // The upstream's silent truncation: a success that only ever holds the top 3.
      totalCount = Math.min(ANONYMOUS_ROWS, rows.length);
      items = page === 1 ? rows.slice(0, Math.min(totalCount, limit)) : [];
      hasMore = false;
    } else {
      items = rows.slice((page - 1) * limit, page * limit);
      totalCount = rows.length;
      hasMore = page * limit < rows.length;
    }
    const strings = headerValue(request.headers["agw-js-conv"]) === "str";
    const rendered = items.map((row) => gen2Item(row, strings));
    const broken = rendered[Math.floor(rendered.length / 2)];
    if (fault?.kind === "bad_row" && broken) {
      broken.vv = -5;
      delete broken.hashtagName;
    }
    return sendBody(reply, fault?.kind, {
      BaseResp: { StatusCode: 0, StatusMessage: "success" },
      items: rendered,
      pagination: { page, limit, totalCount, hasMore },
    });
  });

  function gen1Permitted(request: FastifyRequest): boolean {
    const h = request.headers;
    const nonEmpty = (name: string) => (headerValue(h[name]) ?? "") !== "";
    return (
      nonEmpty("anonymous-user-id") &&
      /^\d+$/.test(headerValue(h.timestamp) ?? "") &&
      headerValue(h["user-sign"]) === gen1Sign &&
      nonEmpty("web-id") &&
      (parseCookies(headerValue(h.cookie)).get("sessionid") ?? "") !== ""
    );
  }

  const noPermission = () => ({ code: 40101, msg: "no permission", request_id: requestId() });
  const invalid = (param: string) => ({ code: 40000, msg: `invalid ${param}`, request_id: requestId() });

  app.get(FAKE_UPSTREAM_PATHS.gen1List, { config: { generation: 1 } satisfies RouteConfig }, async (request, reply) => {
    const state = stateOf(request);
    state.loggedIn = gen1Permitted(request);
    const fault = takeFault(1);
    state.fault = fault?.kind ?? null;
    const outcome = await answerFault(fault, request, reply, 1);
    if (outcome === "sent") return reply;
    if (outcome === "dropped") return;
    if (!state.loggedIn) return sendJson(reply, noPermission());

    const q = request.query as Record<string, string | string[] | undefined>;
    const param = (name: string) => headerValue(q[name]) ?? "";
    const page = param("page") === "" ? 1 : integerOf(param("page"));
    if (!(page >= 1)) return sendJson(reply, invalid("page"));
    const limit = param("limit") === "" ? 20 : integerOf(param("limit"));
    if (!(limit >= 1 && limit <= 50)) return sendJson(reply, invalid("limit"));
    const period = param("period") === "" ? 7 : integerOf(param("period"));
    if (!isPeriod(period)) return sendJson(reply, invalid("period"));
    const country = param("country_code");
    const region = country === "" ? -1 : REGIONS.findIndex((r) => r.id === country);
    if (country !== "" && region < 0) return sendJson(reply, invalid("country_code"));
    const industryId = param("industry_id");
    const industry = industryId === "" ? -1 : INDUSTRIES.findIndex((i) => String(i.id) === industryId);
    if (industryId !== "" && industry < 0) return sendJson(reply, invalid("industry_id"));
    if (!["", "popular"].includes(param("sort_by"))) return sendJson(reply, invalid("sort_by"));
    const filterBy = param("filter_by");
    if (!["", "new_on_board"].includes(filterBy)) return sendJson(reply, invalid("filter_by"));

    const key = chartKey(region, period, industry);
    const chart = world.chart(key);
    let positions = chart.rows.map((_, i) => i);
    if (filterBy === "new_on_board") {
      const fresh = world.newOnBoard(key, NEW_ON_BOARD_LOOKBACK);
      positions = positions.filter((i) => fresh.has(chart.hashtags[i]!));
    }
    let shown: number[];
    let total: number;
    let hasMore: boolean;
    if (fault?.kind === "empty") {
      [shown, total, hasMore] = [[], 0, false];
    } else if (fault?.kind === "truncate") {
      total = Math.min(ANONYMOUS_ROWS, positions.length);
      shown = page === 1 ? positions.slice(0, Math.min(total, limit)) : [];
      hasMore = false;
    } else {
      shown = positions.slice((page - 1) * limit, page * limit);
      total = positions.length;
      hasMore = page * limit < positions.length;
    }
    const previous = world.ranking({ ...key, day: key.day - 1 }).hashtags;
    const list: Record<string, unknown>[] = shown.map((i) => {
      const row = chart.rows[i]!;
      const hashtag = chart.hashtags[i]!;
      const before = previous.indexOf(hashtag) + 1;
      const industryInfo = INDUSTRIES.find((ind) => ind.id === row.industryId);
      return {
        hashtag_id: row.hashtagId,
        hashtag_name: row.name,
        country_info: regionInfo(REGIONS[region >= 0 ? region : world.topCountry(hashtag)]!),
        industry_info: industryInfo
          ? { id: industryInfo.id, value: industryInfo.value, label: industryInfo.label }
          : { id: "", value: "", label: "" },
        is_promoted: row.promoted,
        trend: row.curve.map((p) => ({ time: p.day, value: p.value / 100 })),
        creators: row.creators.map((c) => ({ nick_name: c.nickname, avatar_url: c.avatarURL })),
        publish_cnt: row.publishCnt,
        video_views: row.views,
        rank: row.rank,
        rank_diff: before === 0 ? null : Math.abs(before - row.rank),
        rank_diff_type: before === 0 ? 4 : row.rank < before ? 1 : row.rank === before ? 2 : 3,
      };
    });
    const broken = list[Math.floor(list.length / 2)];
    if (fault?.kind === "bad_row" && broken) broken.video_views = "lots";
    return sendBody(reply, fault?.kind, {
      code: 0,
      msg: "OK",
      request_id: requestId(),
      data: { list, pagination: { page, size: limit, total, has_more: hasMore } },
    });
  });

  app.get(FAKE_UPSTREAM_PATHS.gen1Filters, { config: { generation: 1 } satisfies RouteConfig }, async (request, reply) => {
    const state = stateOf(request);
    state.loggedIn = gen1Permitted(request);
    if (!state.loggedIn) return sendJson(reply, noPermission());
    return sendJson(reply, {
      code: 0,
      msg: "OK",
      request_id: requestId(),
      data: {
        country: REGIONS.map(regionInfo),
        industry: INDUSTRIES.map((i) => ({ id: i.id, value: i.value, label: i.label })),
      },
    });
  });

  const control = { config: { control: true } satisfies RouteConfig };

  app.post(FAKE_UPSTREAM_PATHS.faults, control, async (request, reply) => {
    const given: unknown[] = Array.isArray(request.body) ? request.body : [request.body];
    let faults: Fault[];
    try {
      faults = given.map(parseFault);
    } catch (error) {
      return reply.code(400).send({ error: (error as Error).message });
    }
    for (const fault of faults) inject(fault);
    return reply.code(204).send();
  });

  app.delete(FAKE_UPSTREAM_PATHS.faults, control, async (_request, reply) => {
    queue = [];
    return reply.code(204).send();
  });

  app.get(FAKE_UPSTREAM_PATHS.requests, control, async (_request, reply) => sendJson(reply, requests));

  app.post(FAKE_UPSTREAM_PATHS.asOf, control, async (request, reply) => {
    const day = (request.body as { day?: unknown } | undefined)?.day;
    const parsed = typeof day === "string" ? parseDay(day) : undefined;
    if (parsed === undefined) return reply.code(400).send({ error: 'day must be a "YYYY-MM-DD" date' });
    asOf = parsed;
    return reply.code(204).send();
  });

  app.setNotFoundHandler(async (_request, reply) =>
    reply.code(404).type("text/html").send("<html><body><h1>404 Not Found</h1></body></html>"),
  );

  return {
    app,
    async listen(port = 0, host = "127.0.0.1") {
      await app.listen({ port, host });
      const address = app.server.address() as AddressInfo;
      // A wildcard address is not one a client can call; its loopback is.
      const where = address.address === "0.0.0.0" ? "127.0.0.1" : address.address === "::" ? "::1" : address.address;
      return `http://${address.family === "IPv6" ? `[${where}]` : where}:${address.port}`;
    },
    async close() {
      for (const letGo of [...held]) letGo();
      await app.close();
    },
    inject,
    clearFaults() {
      queue = [];
    },
    setAsOf(day) {
      asOf = dayNumber(day, "day");
    },
    get requests() {
      return requests;
    },
    chart(query) {
      const region = query.region === ALL_REGIONS ? -1 : REGIONS.findIndex((r) => r.id === query.region);
      if (region < 0 && query.region !== ALL_REGIONS) throw new Error(`unknown region ${JSON.stringify(query.region)}`);
      const industry = query.industry === NO_INDUSTRY ? -1 : INDUSTRIES.findIndex((i) => String(i.id) === query.industry);
      if (industry < 0 && query.industry !== NO_INDUSTRY) throw new Error(`unknown industry ${JSON.stringify(query.industry)}`);
      if (!isPeriod(query.period)) throw new Error(`unknown period ${JSON.stringify(query.period)}`);
      const day = query.day === undefined ? asOf : dayNumber(query.day, "day");
      return [...world.chart({ day, region, period: query.period, industry }).rows];
    },
  };
}
