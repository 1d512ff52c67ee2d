import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
import { MAX_CREDITS, MAX_RATE_LIMIT } from "../domain/accounts/account-service.js";
import { usageQuerySchema } from "./account-routes.js";
import { errorResponses, success } from "./envelope.js";
import { bearerToken, refuseAuthentication } from "./metering.js";
import { accountSchema, apiKeySchema, ledgerEntrySchema, successSchema, usageReportSchema } from "./schemas.js";

const digest = (text: string) => createHash("sha256").update(text).digest();

const list = (item: object) => ({ type: "object", properties: { list: { type: "array", items: item } }, required: ["list"] });

const accountParams = {
  type: "object",
  properties: { account: { type: "string", description: "An account id (acct_…) or name." } },
  required: ["account"],
};

/** A change of balance: the account after it, and its ledger entry. */
const accountAndEntry = {
  type: "object",
  properties: { account: accountSchema, entry: ledgerEntrySchema },
  required: ["account", "entry"],
};

const security = [{ adminToken: [] }];
const tags = ["admin"];

/**
 * The operators' API under /admin/v1: accounts, keys, grants and usage, authenticated by the
 * server's ADMIN_TOKEN. Registered only when that token is set.
 */
export function registerAdminRoutes(app: FastifyInstance, context: AppContext, adminToken: string): void {
  const { accounts, billing, rateLimits } = context;
  const expected = digest(adminToken);

  void app.register(
    async (admin) => {
      admin.addHook("onRequest", async (request, reply) => {
        const token = bearerToken(request.headers.authorization);
        // Compared as digests: equal lengths, and no timing that tells how much of the token matched.
        if (token !== undefined && timingSafeEqual(digest(token), expected)) return;
        return refuseAuthentication(rateLimits, request, reply, "the admin API takes the server's ADMIN_TOKEN as a Bearer token");
      });

      admin.get(
        "/accounts",
        {
          schema: {
            summary: "Every account.",
            tags,
            security,
            response: { 200: successSchema(list(accountSchema), "Accounts."), ...errorResponses(401, 429) },
          },
        },
        async (request) => success(String(request.id), { list: await accounts.listAccounts() }),
      );

      admin.post(
        "/accounts",
        {
          schema: {
            summary: "Create an account, with initial credits.",
            tags,
            security,
            body: {
              type: "object",
              properties: {
                name: { type: "string", minLength: 1, maxLength: 100 },
                credits: { type: "integer", minimum: 0, maximum: MAX_CREDITS, default: 0 },
              },
              required: ["name"],
              additionalProperties: false,
            },
            response: { 201: successSchema(accountSchema, "The new account."), ...errorResponses(400, 401, 409, 429) },
          },
        },
        async (request, reply) => {
          const body = request.body as { name: string; credits: number };
          reply.code(201);
          return success(String(request.id), await accounts.createAccount({ name: body.name, credits: body.credits }));
        },
      );

      admin.get(
        "/accounts/:account",
        {
          schema: {
            summary: "One account.",
            tags,
            security,
            params: accountParams,
            response: { 200: successSchema(accountSchema, "The account."), ...errorResponses(401, 404, 429) },
          },
        },
        async (request) => success(String(request.id), await accounts.getAccount((request.params as { account: string }).account)),
      );

      admin.get(
        "/accounts/:account/keys",
        {
          schema: {
            summary: "The account's API keys, revoked ones included (never their secrets).",
            tags,
            security,
            params: accountParams,
            response: { 200: successSchema(list(apiKeySchema), "Keys."), ...errorResponses(401, 404, 429) },
          },
        },
        async (request) =>
          success(String(request.id), { list: await accounts.listKeys({ account: (request.params as { account: string }).account }) }),
      );

      admin.post(
        "/accounts/:account/keys",
        {
          // Every property has a default: a request without a body asks for a default key.
          preValidation: async (request) => {
            request.body ??= {};
          },
          schema: {
            summary: "Issue an API key. Its secret is in this response and nowhere else, ever.",
            tags,
            security,
            params: accountParams,
            body: {
              type: "object",
              properties: {
                name: { type: "string", minLength: 1, maxLength: 100, default: "default" },
                rate_limit: {
                  type: ["integer", "null"],
                  minimum: 1,
                  maximum: MAX_RATE_LIMIT,
                  description: "Requests per minute; null for the default.",
                },
              },
              additionalProperties: false,
            },
            response: {
              201: successSchema(
                { type: "object", properties: { key: apiKeySchema, secret: { type: "string" } }, required: ["key", "secret"] },
                "The key, and its secret.",
              ),
              ...errorResponses(400, 401, 404, 429),
            },
          },
        },
        async (request, reply) => {
          const body = request.body as { name?: string; rate_limit?: number | null };
          const created = await accounts.createKey({
            account: (request.params as { account: string }).account,
            name: body.name ?? "default",
            rateLimit: body.rate_limit ?? null,
          });
          reply.code(201);
          return success(String(request.id), created);
        },
      );

      admin.post(
        "/keys/:key/revoke",
        {
          schema: {
            summary: "Revoke an API key: every later call with it is a 401.",
            tags,
            security,
            params: { type: "object", properties: { key: { type: "string", description: "key_…" } }, required: ["key"] },
            response: { 200: successSchema(apiKeySchema, "The revoked key."), ...errorResponses(401, 404, 429) },
          },
        },
        async (request) => {
          const key = await accounts.revokeKey((request.params as { key: string }).key);
          billing.forget(key.id);
          return success(String(request.id), key);
        },
      );

      admin.post(
        "/accounts/:account/grants",
        {
          schema: {
            summary: "Add credits to an account's balance.",
            tags,
            security,
            params: accountParams,
            body: {
              type: "object",
              properties: {
                amount: { type: "integer", minimum: 1, maximum: MAX_CREDITS },
                reason: { type: "string", minLength: 1, maxLength: 100, default: "grant" },
              },
              required: ["amount"],
              additionalProperties: false,
            },
            response: {
              201: successSchema(accountAndEntry, "The account after the grant, and its ledger entry."),
              ...errorResponses(400, 401, 404, 429),
            },
          },
        },
        async (request, reply) => {
          const body = request.body as { amount: number; reason: string };
          const granted = await accounts.grant({
            account: (request.params as { account: string }).account,
            amount: body.amount,
            reason: body.reason,
            requestId: String(request.id),
          });
          reply.code(201);
          return success(String(request.id), granted);
        },
      );

      admin.post(
        "/refunds",
        {
          schema: {
            summary: "Give back what one call was charged, once, found by its request id.",
            tags,
            security,
            body: {
              type: "object",
              properties: {
                request_id: { type: "string", minLength: 1, maxLength: 128 },
                reason: { type: "string", minLength: 1, maxLength: 100, default: "refund" },
              },
              required: ["request_id"],
              additionalProperties: false,
            },
            response: {
              201: successSchema(accountAndEntry, "The account after the refund, and its ledger entry."),
              ...errorResponses(400, 401, 404, 409, 429),
            },
          },
        },
        async (request, reply) => {
          const body = request.body as { request_id: string; reason: string };
          const refunded = await accounts.refund({ requestId: body.request_id, reason: body.reason });
          reply.code(201);
          return success(String(request.id), refunded);
        },
      );

      admin.get(
        "/accounts/:account/ledger",
        {
          schema: {
            summary: "The account's credit ledger, newest first.",
            tags,
            security,
            params: accountParams,
            querystring: { type: "object", properties: { limit: { type: "integer", minimum: 1, maximum: 10_000, default: 100 } } },
            response: { 200: successSchema(list(ledgerEntrySchema), "Ledger entries."), ...errorResponses(400, 401, 404, 429) },
          },
        },
        async (request) =>
          success(String(request.id), {
            list: await accounts.ledger({
              account: (request.params as { account: string }).account,
              limit: (request.query as { limit: number }).limit,
            }),
          }),
      );

      admin.get(
        "/usage",
        {
          schema: {
            summary: "Recent calls and a per-day summary, of every account or of one account or key.",
            tags,
            security,
            querystring: {
              ...usageQuerySchema,
              properties: { ...usageQuerySchema.properties, account: { type: "string" }, key: { type: "string" } },
            },
            response: { 200: successSchema(usageReportSchema, "Usage."), ...errorResponses(400, 401, 404, 429) },
          },
        },
        async (request) => {
          const q = request.query as { account?: string; key?: string; limit: number; days: number };
          return success(
            String(request.id),
            await accounts.usage({
              limit: q.limit,
              days: q.days,
              ...(q.account ? { account: q.account } : {}),
              ...(q.key ? { keyId: q.key } : {}),
            }),
          );
        },
      );
    },
    { prefix: "/admin/v1" },
  );
}
