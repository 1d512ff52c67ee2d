import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppContext } from "../context.js";
import type { Caller } from "../domain/accounts/billing-service.js";
import { RATE_WINDOW_SECONDS, type RateDecision, type RateLimits } from "../domain/accounts/rate-limits.js";
import { TagpulseError } from "../lib/errors.js";
import { errorBody, sendError } from "./envelope.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * Credits a 200 of this route costs. Present (0 included) on every route that takes an API key;
     * absent on public ones.
     */
    cost?: number;
  }
  interface FastifyRequest {
    /** Whose key the call came with, once authenticated (revoked keys too, for their usage record). */
    caller?: Caller;
    /** The key's rate-limit standing after this call. */
    rate?: RateDecision;
  }
}

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : BEARER.exec(header)?.[1];
}

/** Answers a failed authentication: 401, or 429 once the address has failed too often. */
export async function refuseAuthentication(
  rateLimits: RateLimits,
  request: FastifyRequest,
  reply: FastifyReply,
  message: string,
): Promise<FastifyReply> {
  const wait = await rateLimits.authBlockedFor(request.ip);
  if (wait > 0) return tooManyFailures(reply, wait);
  await rateLimits.authFailed(request.ip);
  return sendError(reply, new TagpulseError("unauthorized", message));
}

function tooManyFailures(reply: FastifyReply, wait: number): FastifyReply {
  reply.header("Retry-After", String(wait));
  return sendError(reply, new TagpulseError("rate_limited", `too many failed authentications from this address: retry in ${wait} s`));
}

/**
 * Authentication, rate limits and billing of every route that declares a cost, in one place:
 *
 * - on arrival: the key is checked (401), the address slowed down after repeated failures, the
 *   key's rate limit applied (429) and the balance forecast (402), all before any work is done;
 * - on answer: a 200 of a paid route is charged atomically, or answered 402 if another call spent
 *   the credits meanwhile; every call is recorded; the credit headers are set.
 */
export function installMetering(app: FastifyInstance, context: AppContext): void {
  const { billing, rateLimits } = context;

  const refuse = (request: FastifyRequest, reply: FastifyReply, message: string) =>
    refuseAuthentication(rateLimits, request, reply, message);

  app.addHook("onRequest", async (request, reply) => {
    const cost = request.routeOptions.config.cost;
    if (cost === undefined) return;
    const header = request.headers.authorization;
    if (header === undefined) return refuse(request, reply, "missing API key: send the header Authorization: Bearer <key>");
    const secret = bearerToken(header);
    if (secret === undefined) return refuse(request, reply, "malformed Authorization header: expected Bearer <key>");
    let caller = billing.cached(secret);
    if (caller === undefined) {
      // A key not seen lately costs a lookup: an address that keeps failing is refused before it.
      const wait = await rateLimits.authBlockedFor(request.ip);
      if (wait > 0) return tooManyFailures(reply, wait);
      caller = await billing.authenticate(secret);
    }
    if (caller === undefined) return refuse(request, reply, "invalid API key: it is malformed, unknown or was never issued");
    if (caller.revoked) {
      request.caller = caller;
      return refuse(request, reply, "this API key was revoked");
    }
    request.caller = caller;

    const rate = await rateLimits.take(caller.keyId, caller.rateLimit ?? rateLimits.defaultPerMinute);
    request.rate = rate;
    if (!rate.allowed) {
      reply.header("Retry-After", String(rate.resetSeconds));
      return sendError(
        reply,
        new TagpulseError("rate_limited", `rate limit of ${rate.limit} requests per minute reached: retry in ${rate.resetSeconds} s`),
      );
    }
    if (cost > 0) {
      const balance = await billing.forecast(caller.accountId, cost);
      if (balance < cost) return sendError(reply, new TagpulseError("insufficient_credits", insufficient(cost, balance)));
    }
  });

  app.addHook("onSend", async (request, reply, payload) => {
    const { caller, rate } = request;
    if (caller === undefined) return payload;
    const cost = request.routeOptions.config.cost ?? 0;
    const call = {
      caller,
      cost,
      status: reply.statusCode,
      requestId: String(request.id),
      method: request.method,
      route: request.routeOptions.url ?? request.url.split("?")[0]!,
      latencyMs: reply.elapsedTime,
    };
    if (caller.revoked) {
      // Refused already: recorded, so that an operator sees who still uses a revoked key.
      await billing.settle(call).catch((error: unknown) => request.log.error({ err: error }, "could not record the call"));
      return payload;
    }
    if (rate) {
      reply.header("RateLimit-Policy", `"default";q=${rate.limit};w=${RATE_WINDOW_SECONDS}`);
      reply.header("RateLimit", `"default";r=${rate.remaining};t=${rate.resetSeconds}`);
    }
    let settlement;
    try {
      settlement = await billing.settle(call);
    } catch (error) {
      request.log.error({ err: error }, "could not settle the call");
      // An answer that could not be paid for is not given away.
      if (reply.statusCode !== 200 || cost === 0) return payload;
      reply.code(503);
      reply.type("application/json; charset=utf-8");
      return JSON.stringify(errorBody("unavailable", 503, "billing is unavailable: nothing was charged, try again", String(request.id)));
    }
    if (settlement.status === 401) {
      reply.code(401);
      reply.type("application/json; charset=utf-8");
      return JSON.stringify(errorBody("unauthorized", 401, "this API key was revoked", String(request.id)));
    }
    reply.header("X-Credits-Cost", String(settlement.charged));
    reply.header("X-Credits-Remaining", String(settlement.balance));
    if (settlement.status === 402 && reply.statusCode !== 402) {
      reply.code(402);
      reply.type("application/json; charset=utf-8");
      return JSON.stringify(errorBody("insufficient_credits", 402, insufficient(cost, settlement.balance), String(request.id)));
    }
    return payload;
  });
}

function insufficient(cost: number, balance: number): string {
  return `insufficient credits: this call costs ${cost} credits and the balance is ${balance}`;
}
