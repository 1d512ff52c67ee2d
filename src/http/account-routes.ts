import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
import { RATE_WINDOW_SECONDS } from "../domain/accounts/rate-limits.js";
import { errorResponses, success } from "./envelope.js";
import { accountSchema, apiKeySchema, successSchema, usageReportSchema } from "./schemas.js";

export const usageQuerySchema = {
  type: "object",
  properties: {
    limit: { type: "integer", minimum: 1, maximum: 1000, default: 50, description: "Recent calls to list, newest first." },
    days: { type: "integer", minimum: 1, maximum: 366, default: 30, description: "Days of the per-day summary, ending today (UTC)." },
  },
};

/** Free routes about the caller's own account, authenticated by its API key. */
export function registerAccountRoutes(app: FastifyInstance, context: AppContext): void {
  const { accounts } = context;

  app.get(
    "/v1/account",
    {
      config: { cost: 0 },
      schema: {
        summary: "The caller's account: balance, the key in use and its rate limit (free).",
        tags: ["account"],
        security: [{ bearerAuth: [] }],
        response: {
          200: successSchema(
            {
              type: "object",
              properties: {
                account: accountSchema,
                key: apiKeySchema,
                rate_limit: {
                  type: "object",
                  properties: {
                    limit: { type: "integer", description: "Requests per window." },
                    remaining: { type: "integer" },
                    reset_seconds: { type: "integer", description: "Seconds until the window starts again." },
                    window_seconds: { type: "integer" },
                  },
                  required: ["limit", "remaining", "reset_seconds", "window_seconds"],
                },
              },
              required: ["account", "key", "rate_limit"],
            },
            "The account, the key and its rate limit.",
          ),
          ...errorResponses(401, 429, 500),
        },
      },
    },
    async (request) => {
      const caller = request.caller!;
      const rate = request.rate!;
      const [account, key] = await Promise.all([accounts.getAccount(caller.accountId), accounts.getKey(caller.keyId)]);
      return success(String(request.id), {
        account,
        key,
        rate_limit: { limit: rate.limit, remaining: rate.remaining, reset_seconds: rate.resetSeconds, window_seconds: RATE_WINDOW_SECONDS },
      });
    },
  );

  app.get(
    "/v1/account/usage",
    {
      config: { cost: 0 },
      schema: {
        summary: "The account's recent calls and a per-day summary, every key included (free).",
        tags: ["account"],
        security: [{ bearerAuth: [] }],
        querystring: usageQuerySchema,
        response: { 200: successSchema(usageReportSchema, "Recent calls and the per-day summary."), ...errorResponses(400, 401, 429, 500) },
      },
    },
    async (request) => {
      const { limit, days } = request.query as { limit: number; days: number };
      return success(String(request.id), await accounts.usage({ account: request.caller!.accountId, limit, days }));
    },
  );
}
