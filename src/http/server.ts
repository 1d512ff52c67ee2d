import { randomUUID } from "node:crypto";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { AppContext } from "../context.js";
import { parseChartParams, type ChartParams } from "../domain/chart-query.js";
import { CHART_INDUSTRIES, CHART_REGIONS, PERIODS } from "../domain/chart-model.js";
import { INDUSTRIES, REGIONS } from "../domain/reference-data.js";
import { TagpulseError } from "../lib/errors.js";
import { createChartResponses, type ChartResponses } from "./chart-responses.js";
import { registerAccountRoutes } from "./account-routes.js";
import { registerAdminRoutes } from "./admin-routes.js";
import { errorBody, errorResponses, sendError } from "./envelope.js";
import { installMetering } from "./metering.js";
import { createMetrics, type Metrics } from "./metrics.js";
import {
  industryItemSchema,
  referenceListSchema,
  regionItemSchema,
  successSchema,
  trendingDataSchema,
  trendingQuerySchema,
} from "./schemas.js";
import { TRENDING_EXAMPLE } from "./trending-example.js";

/** Credits one call of a paid route costs, declared on the route (`config.cost`). */
export const TRENDING_COST = 2;

const TRENDING_ROUTE = "/v1/tiktok/trending/hashtags";

/** Rows per page at most, as the compatible service documents. */
const MAX_LIMIT = 20;

/** A caller's own X-Request-Id is echoed when it looks like an id, not like an injection. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const LIST_START = Buffer.from(`{"code":0,"message":"success","data":{"list":[`);
const COMMA = Buffer.from(",");

/** One log line per request, when it is answered, instead of one on arrival and one on answer. */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, "request");
    else reply.log.info(line, "request");
  }
}

export interface ServerOptions {
  /** Pino logging of every request, at the configured level; off in tests. */
  readonly logger?: boolean;
  /** Where log lines go (standard output by default). */
  readonly logStream?: { write(line: string): void };
  /** Memory for rendered charts. */
  readonly chartCacheBytes?: number;
  /** How often the server looks for charts a build has replaced, in ms. */
  readonly chartRecheckMs?: number;
}

/**
 * The HTTP API: the trending-hashtags endpoint wire-compatible with the documented service, its free
 * reference lists, the OpenAPI document and its docs page, and health, readiness and metrics.
 */
export async function buildServer(
  context: AppContext,
  options: ServerOptions = {},
): Promise<{ app: FastifyInstance; charts: ChartResponses; metrics: Metrics }> {
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: context.config.logLevel,
            redact: { paths: ["req.headers.authorization", "req.headers.cookie"], censor: "[redacted]" },
            ...(options.logStream ? { stream: options.logStream } : {}),
          },
    requestIdHeader: false,
    genReqId: (req) => {
      const id = req.headers["x-request-id"];
      return typeof id === "string" && SANE_REQUEST_ID.test(id) ? id : randomUUID();
    },
    return503OnClosing: true,
    // A body property the schema does not know is refused, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    logController: new OneLinePerRequest(),
  });
  const charts = createChartResponses(context.publicCharts, {
    maxBytes: options.chartCacheBytes ?? 256 * 2 ** 20,
    recheckMs: options.chartRecheckMs ?? 1000,
  });
  const metrics = createMetrics(context.charts, context.upstreamCharts);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "tagpulse API",
        version: "1",
        description:
          "TikTok trending hashtags computed from raw video observations. Paid calls take an API key as `Authorization: Bearer <key>` and cost credits.",
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", description: "An API key, tp_live_…" },
          ...(context.config.adminToken
            ? { adminToken: { type: "http", scheme: "bearer", description: "The server's ADMIN_TOKEN." } }
            : {}),
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  app.addHook("onRequest", async (request, reply) => {
    reply.header("X-Request-Id", request.id);
  });
  installMetering(app, context);
  let redisWarnedAt = 0;
  context.rateLimits.onRedisError((error) => {
    if (Date.now() - redisWarnedAt < 10_000) return;
    redisWarnedAt = Date.now();
    app.log.warn({ err: error }, "Redis unreachable: rate limits are counted by this process alone until it is back");
  });
  await context.rateLimits.connect();
  // Once closing, each answer ends its connection: a kept-alive one would hold the close back until it times out.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", async (_request, reply) => {
    if (closing) reply.header("connection", "close");
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.observe(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError | TagpulseError, request, reply) => {
    if (error instanceof TagpulseError) {
      if (error.status >= 500) request.log.error({ err: error }, error.message);
      return sendError(reply, error);
    }
    if (error.validation) {
      // The chart parser words the rule that was broken; the schema only found which parameter.
      if (request.routeOptions.url === TRENDING_ROUTE) {
        try {
          parseChartParams(request.query as ChartParams, { maxLimit: MAX_LIMIT, paged: true });
        } catch (parsed) {
          if (parsed instanceof TagpulseError) return sendError(reply, parsed);
        }
      }
      const first = error.validation[0];
      const param =
        first?.instancePath.replace(/^\//, "").replaceAll("/", ".") ||
        String(first?.params["missingProperty"] ?? first?.params["additionalProperty"] ?? error.validationContext ?? "");
      return sendError(reply, new TagpulseError("invalid_parameter", `${param} ${first?.message ?? "is invalid"}`, { param }));
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send(errorBody("invalid_input", error.statusCode, error.message, String(request.id)));
    }
    request.log.error({ err: error }, "request failed");
    return reply
      .code(500)
      .send(errorBody("internal", 500, "internal error: the request id identifies it in the server's logs", String(request.id)));
  });
  registerAccountRoutes(app, context);
  if (context.config.adminToken) registerAdminRoutes(app, context, context.config.adminToken);

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new TagpulseError("not_found", `no route ${request.method} ${request.url.split("?")[0]}`)),
  );

  app.get(
    TRENDING_ROUTE,
    {
      config: { cost: TRENDING_COST },
      // A HEAD would be charged for a body it never gets.
      exposeHeadRoute: false,
      schema: {
        summary: "Trending hashtags",
        description: `The top 100 hashtags of one chart, a page at a time. Costs ${TRENDING_COST} credits, charged only for a 200.`,
        tags: ["trending"],
        security: [{ bearerAuth: [] }],
        querystring: {
          ...trendingQuerySchema,
          properties: {
            ...trendingQuerySchema.properties,
            as_of: { type: "string", format: "date", description: "The chart's day, YYYY-MM-DD (default: the latest)." },
          },
        },
        response: {
          200: { ...successSchema(trendingDataSchema, "One page of the chart."), examples: [TRENDING_EXAMPLE] },
          ...errorResponses(400, 401, 402, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const query = parseChartParams(request.query as ChartParams, { maxLimit: MAX_LIMIT, paged: true });
      const chart = await charts.get({ region: query.region, period: query.period, industry: query.industry, asOf: query.asOf });
      const rows = query.newToTop100 ? chart.newRows : chart.rows;
      const page = query.page ?? 1;
      const limit = query.limit ?? MAX_LIMIT;
      const from = Math.min((page - 1) * limit, rows.length);
      const list = rows.slice(from, from + limit);
      // Rows come serialized by the item schema; the envelope around them is the 200 schema's.
      const parts: Buffer[] = [LIST_START];
      list.forEach((row, i) => parts.push(...(i === 0 ? [row] : [COMMA, row])));
      parts.push(
        Buffer.from(
          `],"pagination":{"page":${page},"size":${list.length},"total":${rows.length},"has_more":${from + list.length < rows.length}},` +
            `"as_of":"${chart.asOf}","window_start":"${chart.windowStart}","window_end":"${chart.windowEnd}",` +
            `"source":"${chart.source}","collected_at":${chart.collectedAt === null ? "null" : `"${chart.collectedAt}"`},"complete":${chart.complete}},` +
            `"requestId":${JSON.stringify(request.id)}}`,
        ),
      );
      reply.type("application/json; charset=utf-8");
      reply.header("X-Chart-Source", chart.source);
      reply.header("X-Chart-As-Of", chart.asOf);
      return Buffer.concat(parts);
    },
  );

  const reference = (path: string, summary: string, item: object, list: readonly object[]) =>
    app.get(
      path,
      {
        schema: {
          summary,
          tags: ["reference"],
          response: { 200: successSchema(referenceListSchema(item), summary), ...errorResponses(500) },
        },
      },
      async (request) => ({ code: 0, message: "success", data: { list }, requestId: request.id }),
    );
  reference(
    "/v1/tiktok/trending/regions",
    "Supported countries: the values of region besides all_regions (free).",
    regionItemSchema,
    REGIONS.map(({ id, value, label }) => ({ id, value, label })),
  );
  reference(
    "/v1/tiktok/trending/industries",
    "First-level industries: the values of industry_id besides nothing (free).",
    industryItemSchema,
    INDUSTRIES.map(({ id, value, label }) => ({ id, value, label })),
  );

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  app.get(
    "/healthz",
    {
      schema: {
        summary: "The process is alive.",
        tags: ["operations"],
        response: { 200: { type: "object", properties: { status: { type: "string", enum: ["ok"] } }, required: ["status"] } },
      },
    },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        summary:
          "The database answers and charts exist: the engine's latest day, age and whether the server is rendering them ahead of requests, when collected charts were last fetched, and whether collecting is paused.",
        tags: ["operations"],
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (_request, reply) => {
      let days: { first: number; last: number } | null;
      let collectedAt: number | null;
      let collector: Awaited<ReturnType<typeof context.upstreamCharts.collectorState>>;
      try {
        [days, collectedAt, collector] = await Promise.all([
          context.charts.chartDays(),
          context.upstreamCharts.lastFetchedAt(),
          context.upstreamCharts.collectorState(),
        ]);
      } catch (error) {
        reply.log.warn({ err: error }, "database unreachable");
        return reply
          .code(503)
          .send({ status: "unavailable", database: "unreachable", charts: null, collected: null, collection_paused: null });
      }
      const pause = collector?.pause && collector.pause.until > Date.now() ? collector.pause : null;
      const collectionPaused = pause ? { until: new Date(pause.until).toISOString(), reason: pause.reason } : null;
      const sources = context.config.chartSources;
      const collected =
        collectedAt === null
          ? null
          : { last_fetched_at: new Date(collectedAt).toISOString(), age_seconds: Math.round((Date.now() - collectedAt) / 1000) };
      const engine =
        days === null
          ? null
          : {
              as_of: new Date(days.last * 86_400_000).toISOString().slice(0, 10),
              age_seconds: Math.round(Date.now() / 1000 - days.last * 86_400),
              rendering: charts.warming,
            };
      const ready = (sources.includes("engine") && engine !== null) || (sources.includes("creative_center") && collected !== null);
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? "ready" : "unavailable", database: "ok", charts: engine, collected, collection_paused: collectionPaused });
    },
  );

  app.get(
    "/metrics",
    {
      schema: {
        summary: "Prometheus metrics.",
        tags: ["operations"],
        response: { 200: { type: "string", description: "Prometheus text exposition format." } },
      },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  return { app, charts, metrics };
}

const readinessSchema = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["ready", "unavailable"] },
    database: { type: "string", enum: ["ok", "unreachable"] },
    charts: {
      type: ["object", "null"],
      properties: {
        as_of: { type: "string", format: "date" },
        age_seconds: { type: "integer", description: "Seconds since 00:00 UTC of the latest chart day." },
        rendering: { type: "boolean", description: "Whether the server is still rendering the latest charts ahead of requests." },
      },
      required: ["as_of", "age_seconds", "rendering"],
    },

    collected: {
      type: ["object", "null"],
      description: "Charts collected from Creative Center: when the newest was fetched.",
      properties: {
        last_fetched_at: { type: "string", format: "date-time" },
        age_seconds: { type: "integer" },
      },
      required: ["last_fetched_at", "age_seconds"],
    },
    collection_paused: {
      type: ["object", "null"],
      description: "Collecting from Creative Center is paused after its refusals: until when, and why.",
      properties: { until: { type: "string", format: "date-time" }, reason: { type: "string" } },
      required: ["until", "reason"],
    },
  },
  required: ["status", "database", "charts", "collected", "collection_paused"],
};

/** Every chart of the latest day, for warming the cache: the regions, periods and industries. */
export function everyLatestChart() {
  return CHART_REGIONS.flatMap((region) => PERIODS.flatMap((period) => CHART_INDUSTRIES.map((industry) => ({ region, period, industry }))));
}
