import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/config.js";
import { createContext, type AppContext } from "../src/context.js";
import { hashApiKey, issueApiKey } from "../src/domain/accounts/api-keys.js";
import { buildServer } from "../src/http/server.js";
import { createSimulation } from "../src/sources/simulator.js";
import { createTestContext, POSTGRES_URL, REDIS_URL, TEST_DATABASES, type TestContext } from "./databases.js";
import { freePort } from "./free-port.js";
import { newCaller } from "./keys.js";

/** Every route a 200 of which costs credits, with its price: a new paid route is added here and every check below covers it. */
const PAID_ROUTES = [{ url: "/v1/tiktok/trending/hashtags", cost: 2 }] as const;

type PaidRoute = (typeof PAID_ROUTES)[number];

const TRENDING = PAID_ROUTES[0];

/** A small world: three days from 2026-01-01, enough for every chart of those days to exist. */
const WORLD = { seed: 11, days: 3, videosPerDay: 100, startDay: 20_454 } as const;
const FIRST_DAY = "2026-01-01";
const BEFORE_THE_DATA = "2025-06-01";

const cli = path.resolve("dist/cli/main.js");

async function* asInput(values: Iterable<unknown>) {
  let line = 0;
  for (const value of values) yield { line: ++line, value };
}

/** The world, simulated once and kept as JSON: each database gets its own copy of every record. */
const SIMULATED = (() => {
  const simulation = createSimulation(WORLD);
  return {
    catalog: JSON.stringify(simulation.catalog),
    observations: Array.from(simulation.observations(), (record) => JSON.stringify(record)),
  };
})();

async function seedWorld(context: AppContext): Promise<void> {
  await context.ingest.ingestCatalog(asInput(JSON.parse(SIMULATED.catalog) as unknown[]));
  await context.ingest.ingestObservations(asInput(SIMULATED.observations.map((line) => JSON.parse(line) as unknown)));
  await context.engine.build();
}

interface World {
  readonly context: TestContext;
  readonly app: FastifyInstance;
  /** Every line the server logged, when built with `logs`. */
  readonly logs: string[];
}

interface WorldOptions {
  /** Configuration, as the environment would give it. */
  readonly env?: NodeJS.ProcessEnv;
  /** Whether charts exist (default true). */
  readonly data?: boolean;
  /** Logs every request at LOG_LEVEL (info by default) into `World.logs`. */
  readonly logs?: boolean;
  /** What the server is built on instead of the context itself (to make a service fail, say). */
  readonly wrap?: (context: AppContext) => AppContext;
}

const worlds: World[] = [];

/** A fresh database of `kind` with a server on it; disposed of after the test. */
async function newWorld(kind: "SQLite" | "PostgreSQL", options: WorldOptions = {}): Promise<World> {
  const context = await createTestContext(kind, { LOG_LEVEL: "info", ...options.env });
  const logs: string[] = [];
  try {
    if (options.data !== false) await seedWorld(context);
    const served = options.wrap ? options.wrap(context) : context;
    const { app } = await buildServer(
      served,
      options.logs ? { logger: true, logStream: { write: (line: string) => void logs.push(line) } } : { logger: false },
    );
    const world = { context, app, logs };
    worlds.push(world);
    return world;
  } catch (error) {
    await context.dispose();
    throw error;
  }
}

afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.app.close();
    await world.context.dispose();
  }
});

const LEDGER_COLUMNS = ["id", "account_id", "kind", "amount", "balance_after", "reason", "key_id", "request_id"] as const;
const USAGE_COLUMNS = ["id", "account_id", "key_id", "request_id", "method", "route", "status", "cost"] as const;

type LedgerRow = Awaited<ReturnType<typeof ledgerOf>>[number];

/** Every balance and every ledger row of the database: what a call must leave as it was when it is not charged. */
async function money(context: AppContext): Promise<{ balances: Record<string, number>; ledger: LedgerRow[] }> {
  const { db } = context.database;
  const accounts = await db.selectFrom("accounts").select(["id", "balance"]).orderBy("id").execute();
  return {
    balances: Object.fromEntries(accounts.map((a) => [a.id, Number(a.balance)])),
    ledger: await ledgerOf(context),
  };
}

async function ledgerOf(context: AppContext, accountId?: string) {
  let query = context.database.db.selectFrom("credit_ledger").select(LEDGER_COLUMNS).orderBy("id");
  if (accountId !== undefined) query = query.where("account_id", "=", accountId);
  return query.execute();
}

async function usageOf(context: AppContext, where: { accountId?: string; requestId?: string } = {}) {
  let query = context.database.db.selectFrom("usage_records").select(USAGE_COLUMNS).orderBy("id");
  if (where.accountId !== undefined) query = query.where("account_id", "=", where.accountId);
  if (where.requestId !== undefined) query = query.where("request_id", "=", where.requestId);
  return query.execute();
}

async function balanceOf(context: AppContext, accountId: string): Promise<number> {
  return (await context.accounts.getAccount(accountId)).balance;
}

/** Charges in `ledger` (one account's, by id) add up: each balance_after is the one before plus the amount, never negative, ending at `balance`. */
function expectLedgerAddsUp(ledger: LedgerRow[], balance: number): void {
  let running = 0;
  for (const row of ledger) {
    running += row.amount;
    expect(row.balance_after, `ledger row ${row.id}`).toBe(running);
    expect(row.balance_after, `ledger row ${row.id}`).toBeGreaterThanOrEqual(0);
  }
  expect(running).toBe(balance);
}

function requestIdOf(response: { headers: Record<string, unknown> }): string {
  const id = response.headers["x-request-id"];
  expect(typeof id).toBe("string");
  return id as string;
}

/** The error envelope of the public contract, with the request id of its answer. */
function expectErrorEnvelope(response: LightMyRequestResponse, status: number, type: string, param?: string): void {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.json()).toEqual({
    code: status,
    message: expect.any(String),
    data: null,
    requestId: requestIdOf(response),
    error: param === undefined ? { type } : { type, param },
  });
}

/** A call that was not charged says so, when it says anything. */
function expectNoCreditsTaken(response: LightMyRequestResponse): void {
  const cost = response.headers["x-credits-cost"];
  if (cost !== undefined) expect(cost).toBe("0");
}

/** The single usage row of one answered call: its final status, nothing charged. */
async function expectRecordedFree(context: AppContext, response: LightMyRequestResponse): Promise<void> {
  const rows = await usageOf(context, { requestId: requestIdOf(response) });
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ status: response.statusCode, cost: 0 });
}

/** Plants a key whose stored hash is that of `token`, on a funded account: a lookup of a malformed key would find it and be charged. */
async function plantKeyFor(context: AppContext, accountId: string, token: string): Promise<void> {
  const hash = hashApiKey(token);
  const { db } = context.database;
  if (await db.selectFrom("api_keys").select("id").where("hash", "=", hash).executeTakeFirst()) return;
  await db
    .insertInto("api_keys")
    .values({
      id: `key_planted${randomBytes(6).toString("hex")}`,
      account_id: accountId,
      name: "planted",
      prefix: token.slice(0, 12),
      hash,
      rate_limit: 1_000_000,
      created_at: Date.now(),
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
}

/**
 * Every way a call to a paid route can come without a usable key, or without credits, replayed
 * against `route`: each is refused with its status and the error envelope, charges nothing, and
 * neither the answers nor the server's log lines ever contain a key.
 */
async function replayAuthFailures(world: World, route: PaidRoute): Promise<void> {
  const { app, context, logs } = world;
  const funded = await newCaller(context, { credits: 1000 });
  const secrets = [funded.secret];
  let attempts = 0;

  async function attempt(
    label: string,
    headers: Record<string, string>,
    expected: { status: number; type: string; recorded: boolean },
    sent: string[] = [],
  ): Promise<void> {
    secrets.push(...sent.filter((s) => s.length >= 12));
    const before = await money(context);
    const response = await app.inject({ method: "GET", url: route.url, headers });
    attempts++;
    expect(response.statusCode, `${label}: ${response.body}`).toBe(expected.status);
    expectErrorEnvelope(response, expected.status, expected.type);
    expectNoCreditsTaken(response);
    expect(await money(context), `${label}: nothing charged`).toEqual(before);
    const rows = await usageOf(context, { requestId: requestIdOf(response) });
    if (expected.recorded) {
      expect(rows, label).toHaveLength(1);
      expect(rows[0], label).toMatchObject({ status: expected.status, cost: 0 });
    } else {
      expect(rows, label).toEqual([]);
    }
    const answer = JSON.stringify(response.headers) + response.body;
    for (const secret of secrets) expect(answer.includes(secret), `${label}: a key in the answer`).toBe(false);
  }

  const unauthorized = { status: 401, type: "unauthorized", recorded: false };

  await attempt("no Authorization header", {}, unauthorized);

  // Malformed keys are refused before any lookup: each is planted, so that a lookup would find a
  // funded key and charge it.
  const body = funded.secret.slice("tp_live_".length);
  const malformed = [
    funded.secret, // no scheme
    "Bearer",
    `Bearer ${funded.secret} ${funded.secret}`, // two keys
    `Bearer ${funded.secret} trailing`,
    `Bearer\t${funded.secret}`,
    `Basic ${Buffer.from(`${funded.secret}:`).toString("base64")}`,
    `Token ${funded.secret}`,
    `Bearer tp_test_${body}`, // another prefix
    `Bearer tp_live_0OIl${body.slice(4)}`, // characters outside base58
    `Bearer tp_live_${body.slice(0, 10)}`, // too short
    `Bearer tp_live_${body.repeat(4)}`, // too long
    `Bearer "${funded.secret}"`,
    `Bearer ${funded.secret}%00`,
  ];
  for (const authorization of malformed) {
    const token = authorization.replace(/^\S+\s+/, "");
    await plantKeyFor(context, funded.accountId, token);
    await plantKeyFor(context, funded.accountId, authorization);
    await attempt(`malformed: ${authorization}`, { authorization }, unauthorized, [token, authorization]);
  }

  const unknown = issueApiKey().secret;
  await attempt("unknown well-formed key", { authorization: `Bearer ${unknown}` }, unauthorized, [unknown]);

  const revoked = await newCaller(context, { credits: 1000 });
  secrets.push(revoked.secret);
  await context.accounts.revokeKey(revoked.keyId);
  context.billing.forget(revoked.keyId);
  await attempt("revoked key", revoked.headers, { status: 401, type: "unauthorized", recorded: true });

  // Revoked while this server still trusts it from its cache: the charge finds out.
  const cachedRevoked = await newCaller(context, { credits: 1000 });
  secrets.push(cachedRevoked.secret);
  const warm = await app.inject({ method: "GET", url: "/v1/account", headers: cachedRevoked.headers });
  attempts++;
  expect(warm.statusCode).toBe(200);
  expect(context.billing.cached(cachedRevoked.secret)?.revoked).toBe(false);
  await context.accounts.revokeKey(cachedRevoked.keyId);
  for (let i = 0; i < 3; i++) {
    await attempt(`key revoked while cached (${i + 1})`, cachedRevoked.headers, { status: 401, type: "unauthorized", recorded: true });
  }

  const broke = await newCaller(context, { credits: 0 });
  secrets.push(broke.secret);
  await attempt("zero balance", broke.headers, { status: 402, type: "insufficient_credits", recorded: true });
  const almost = await newCaller(context, { credits: route.cost - 1 });
  secrets.push(almost.secret);
  await attempt("balance below the cost", almost.headers, { status: 402, type: "insufficient_credits", recorded: true });

  // The log lines were captured (one per request), and none holds a key.
  const requests = logs.map((line) => JSON.parse(line) as { msg?: string }).filter((line) => line.msg === "request");
  expect(requests.length).toBeGreaterThanOrEqual(attempts);
  const logged = logs.join("");
  for (const secret of secrets) expect(logged.includes(secret), `a key in the logs: ${secret.slice(0, 12)}…`).toBe(false);
}

for (const database of TEST_DATABASES) {
  describe.skipIf(!database.enabled)(`billing on ${database.name}`, () => {
    const kind = database.name;

    for (const route of PAID_ROUTES) {
      it(`refuses ${route.url} without a usable key or credits, charges nothing and never shows or logs the key`, async () => {
        const world = await newWorld(kind, { logs: true, env: { AUTH_FAILURES_PER_MINUTE: "1000" } });
        await replayAuthFailures(world, route);
      });

      it(`slows down an address after repeated failed authentications on ${route.url}, charging nothing`, async () => {
        const { app, context } = await newWorld(kind, { env: { AUTH_FAILURES_PER_MINUTE: "3" } });
        const valid = await newCaller(context, { credits: 100 });
        const before = await money(context);
        const unknown = { authorization: `Bearer ${issueApiKey().secret}` };
        for (let i = 0; i < 3; i++) expect((await app.inject({ method: "GET", url: route.url, headers: unknown })).statusCode).toBe(401);
        // After 3 failures in the minute, this address is refused, even with a valid key not seen lately.
        for (const headers of [unknown, valid.headers]) {
          const refused = await app.inject({ method: "GET", url: route.url, headers });
          expectErrorEnvelope(refused, 429, "rate_limited");
          expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
          expectNoCreditsTaken(refused);
        }
        // Another address is not held back by this one.
        const other = await app.inject({ method: "GET", url: route.url, headers: valid.headers, remoteAddress: "10.0.0.7" });
        expect(other.statusCode).toBe(200);
        expect(await balanceOf(context, valid.accountId)).toBe(100 - route.cost);
        expect((await money(context)).ledger).toHaveLength(before.ledger.length + 1);
      });

      it(`charges a 200 of ${route.url} exactly its cost, once, with its request id in the ledger`, async () => {
        const { app, context } = await newWorld(kind);
        const caller = await newCaller(context, { credits: 10 });
        const before = await ledgerOf(context, caller.accountId);
        const response = await app.inject({ method: "GET", url: route.url, headers: caller.headers });
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json()).toMatchObject({ code: 0, message: "success" });
        const requestId = requestIdOf(response);
        const balance = 10 - route.cost;
        expect(await balanceOf(context, caller.accountId)).toBe(balance);
        expect(response.headers["x-credits-cost"]).toBe(String(route.cost));
        expect(response.headers["x-credits-remaining"]).toBe(String(balance));
        const after = await ledgerOf(context, caller.accountId);
        expect(after.slice(0, before.length)).toEqual(before);
        expect(after.slice(before.length)).toEqual([
          {
            id: expect.any(Number),
            account_id: caller.accountId,
            kind: "charge",
            amount: -route.cost,
            balance_after: balance,
            reason: expect.stringContaining(route.url),
            key_id: caller.keyId,
            request_id: requestId,
          },
        ]);
        expectLedgerAddsUp(after, balance);
        expect(await usageOf(context, { accountId: caller.accountId })).toEqual([
          {
            id: expect.any(Number),
            account_id: caller.accountId,
            key_id: caller.keyId,
            request_id: requestId,
            method: "GET",
            route: route.url,
            status: 200,
            cost: route.cost,
          },
        ]);
      });

      it(`charges nothing for a 400 of ${route.url} and records it with cost 0`, async () => {
        const { app, context } = await newWorld(kind);
        const caller = await newCaller(context, { credits: 10 });
        const before = await money(context);
        for (const query of ["period=8", "page=0", "region=XX", "as_of=2026-13-01"]) {
          const response = await app.inject({ method: "GET", url: `${route.url}?${query}`, headers: caller.headers });
          expect(response.statusCode, query).toBe(400);
          expect(response.json()).toMatchObject({ code: 400, data: null, error: { type: "invalid_parameter" } });
          expectNoCreditsTaken(response);
          await expectRecordedFree(context, response);
        }
        expect(await money(context)).toEqual(before);
        expect(await usageOf(context, { accountId: caller.accountId })).toHaveLength(4);
      });

      it(`charges nothing for a 404 next to ${route.url}, even with a valid key`, async () => {
        const { app, context } = await newWorld(kind);
        const caller = await newCaller(context, { credits: 10 });
        const before = await money(context);
        const misses = [
          { method: "GET", url: `${route.url}/nothing-here` },
          { method: "GET", url: "/v1/tiktok/trending/nothing-here" },
          // A HEAD or a POST of the paid route is no call of it.
          { method: "HEAD", url: route.url },
          { method: "POST", url: route.url },
        ] as const;
        for (const miss of misses) {
          const response = await app.inject({ ...miss, headers: caller.headers });
          expect(response.statusCode, `${miss.method} ${miss.url}`).toBe(404);
          if (miss.method !== "HEAD") expectErrorEnvelope(response, 404, "not_found");
          expectNoCreditsTaken(response);
          // Unknown routes take no key: at most a free record of the 404.
          const rows = await usageOf(context, { requestId: requestIdOf(response) });
          expect(rows.length).toBeLessThanOrEqual(1);
          for (const row of rows) expect(row).toMatchObject({ status: 404, cost: 0 });
        }
        expect(await money(context)).toEqual(before);
        // The key still works and pays for a real call.
        expect((await app.inject({ method: "GET", url: route.url, headers: caller.headers })).statusCode).toBe(200);
        expect(await balanceOf(context, caller.accountId)).toBe(10 - route.cost);
      });

      it(`charges nothing for a 429 of ${route.url}, with Retry-After and RateLimit headers, and records it with cost 0`, async () => {
        const { app, context } = await newWorld(kind);
        const caller = await newCaller(context, { credits: 100, rateLimit: 2 });
        for (let i = 0; i < 2; i++) {
          const allowed = await app.inject({ method: "GET", url: route.url, headers: caller.headers });
          expect(allowed.statusCode, allowed.body).toBe(200);
          expect(allowed.headers["ratelimit-policy"]).toBe('"default";q=2;w=60');
          expect(allowed.headers["ratelimit"]).toMatch(new RegExp(`^"default";r=${1 - i};t=\\d+$`));
        }
        const before = await money(context);
        expect(before.balances[caller.accountId]).toBe(100 - 2 * route.cost);
        for (let i = 0; i < 3; i++) {
          const limited = await app.inject({ method: "GET", url: route.url, headers: caller.headers });
          expectErrorEnvelope(limited, 429, "rate_limited");
          const retryAfter = Number(limited.headers["retry-after"]);
          expect(Number.isInteger(retryAfter)).toBe(true);
          expect(retryAfter).toBeGreaterThanOrEqual(1);
          expect(retryAfter).toBeLessThanOrEqual(60);
          expect(limited.headers["ratelimit-policy"]).toBe('"default";q=2;w=60');
          expect(limited.headers["ratelimit"]).toBe(`"default";r=0;t=${retryAfter}`);
          expectNoCreditsTaken(limited);
          await expectRecordedFree(context, limited);
        }
        expect(await money(context)).toEqual(before);
        const usage = await usageOf(context, { accountId: caller.accountId });
        expect(usage.map((row) => [row.status, row.cost])).toEqual([
          [200, route.cost],
          [200, route.cost],
          [429, 0],
          [429, 0],
          [429, 0],
        ]);
      });

      it(`charges nothing for a 503 of ${route.url} on a day without charts and records it with cost 0`, async () => {
        const { app, context } = await newWorld(kind);
        const caller = await newCaller(context, { credits: 10 });
        const before = await money(context);
        const response = await app.inject({ method: "GET", url: `${route.url}?as_of=${BEFORE_THE_DATA}`, headers: caller.headers });
        expectErrorEnvelope(response, 503, "no_data", "as_of");
        expectNoCreditsTaken(response);
        await expectRecordedFree(context, response);
        expect(await money(context)).toEqual(before);
        // The data's first day has charts, and pays.
        const first = await app.inject({ method: "GET", url: `${route.url}?as_of=${FIRST_DAY}`, headers: caller.headers });
        expect(first.statusCode, first.body).toBe(200);
        expect(await balanceOf(context, caller.accountId)).toBe(10 - route.cost);
      });

      it(`charges nothing for a 503 of ${route.url} before any chart exists`, async () => {
        const { app, context } = await newWorld(kind, { data: false });
        const caller = await newCaller(context, { credits: 10 });
        const before = await money(context);
        const response = await app.inject({ method: "GET", url: route.url, headers: caller.headers });
        expectErrorEnvelope(response, 503, "no_data");
        expectNoCreditsTaken(response);
        await expectRecordedFree(context, response);
        expect(await money(context)).toEqual(before);
      });

      it(`charges nothing for a 500 of ${route.url} when the chart service fails, and records it with cost 0`, async () => {
        const { app, context } = await newWorld(kind, {
          wrap: (served) => ({
            ...served,
            publicCharts: {
              ...served.publicCharts,
              getChartRows: () => Promise.reject(new Error("chart storage failed")),
            },
          }),
        });
        const caller = await newCaller(context, { credits: 10 });
        const before = await money(context);
        for (let i = 0; i < 2; i++) {
          const response = await app.inject({ method: "GET", url: route.url, headers: caller.headers });
          expectErrorEnvelope(response, 500, "internal");
          expectNoCreditsTaken(response);
          await expectRecordedFree(context, response);
        }
        expect(await money(context)).toEqual(before);
      });

      it(`answers 503 for a 200 of ${route.url} whose charge cannot be settled, giving nothing away`, async () => {
        const { app, context } = await newWorld(kind, {
          wrap: (served) => ({
            ...served,
            billing: { ...served.billing, settle: () => Promise.reject(new Error("ledger unreachable")) },
          }),
        });
        const caller = await newCaller(context, { credits: 10 });
        const before = await money(context);
        const response = await app.inject({ method: "GET", url: route.url, headers: caller.headers });
        expectErrorEnvelope(response, 503, "unavailable");
        expect(response.body).not.toContain("hashtag_name");
        expectNoCreditsTaken(response);
        expect(await money(context)).toEqual(before);
      });
    }

    it("charges nothing for the free account routes and records each call with cost 0", async () => {
      const { app, context } = await newWorld(kind, { data: false });
      const caller = await newCaller(context, { credits: 10 });
      const before = await money(context);
      for (const url of ["/v1/account", "/v1/account/usage"]) {
        const response = await app.inject({ method: "GET", url, headers: caller.headers });
        expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
        expect(response.headers["x-credits-cost"]).toBe("0");
        expect(response.headers["x-credits-remaining"]).toBe("10");
        await expectRecordedFree(context, response);
      }
      expect(await money(context)).toEqual(before);
    });

    for (const route of PAID_ROUTES) {
      it(`charges ${route.url} for exactly floor(B / cost) of 60 concurrent calls on a balance of 41, and the ledger adds up`, async () => {
        const { app, context } = await newWorld(kind);
        const B = 41;
        const account = await context.accounts.createAccount({ name: `hammered-${randomBytes(3).toString("hex")}`, credits: B });
        const keys = await Promise.all(
          [1, 2, 3].map((i) => context.accounts.createKey({ account: account.id, name: `k${i}`, rateLimit: 1_000_000 })),
        );
        const base = await app.listen({ port: 0, host: "127.0.0.1" });
        const responses = await Promise.all(
          Array.from({ length: 60 }, async (_, i) => {
            const response = await fetch(`${base}${route.url}`, {
              headers: { authorization: `Bearer ${keys[i % keys.length]!.secret}` },
            });
            const text = await response.text();
            return {
              status: response.status,
              requestId: response.headers.get("x-request-id")!,
              cost: response.headers.get("x-credits-cost"),
              remaining: response.headers.get("x-credits-remaining"),
              body: JSON.parse(text) as { code: number; data: unknown; error?: { type: string } },
            };
          }),
        );
        const charged = Math.floor(B / route.cost);
        const ok = responses.filter((r) => r.status === 200);
        const refused = responses.filter((r) => r.status !== 200);
        expect(ok).toHaveLength(charged);
        expect(refused.map((r) => r.status)).toEqual(Array(60 - charged).fill(402));
        for (const r of refused) {
          expect(r.body).toMatchObject({ code: 402, data: null, error: { type: "insufficient_credits" } });
          expect(r.cost).toBe("0");
        }
        for (const r of ok) expect(r.cost).toBe(String(route.cost));
        // Each 200 saw the balance its own charge left: every one from B - cost down to B mod cost.
        expect(ok.map((r) => Number(r.remaining)).sort((a, b) => b - a)).toEqual(
          Array.from({ length: charged }, (_, i) => B - route.cost * (i + 1)),
        );
        expect(new Set(responses.map((r) => r.requestId)).size).toBe(60);

        const balance = await balanceOf(context, account.id);
        expect(balance).toBe(B % route.cost);
        const ledger = await ledgerOf(context, account.id);
        expectLedgerAddsUp(ledger, balance);
        expect(ledger.filter((row) => row.kind === "grant").map((row) => row.amount)).toEqual([B]);
        const charges = ledger.filter((row) => row.kind === "charge");
        expect(charges).toHaveLength(charged);
        for (const row of charges) expect(row.amount).toBe(-route.cost);
        expect(charges.map((row) => row.request_id).sort()).toEqual(ok.map((r) => r.requestId).sort());

        const usage = await usageOf(context, { accountId: account.id });
        expect(usage).toHaveLength(60);
        expect(usage.map((row) => row.request_id).sort()).toEqual(responses.map((r) => r.requestId).sort());
        expect(usage.reduce((sum, row) => sum + row.cost, 0)).toBe(charged * route.cost);
        const statusOf = new Map(responses.map((r) => [r.requestId, r.status]));
        for (const row of usage) expect(row.status).toBe(statusOf.get(row.request_id));
      });
    }
  });
}

// Two server processes on one PostgreSQL database and one Redis.

const twoProcesses = Boolean(POSTGRES_URL && REDIS_URL);
if (!twoProcesses) {
  console.warn(
    "billing across two server processes skipped: set TEST_POSTGRES_URL and TEST_REDIS_URL (e.g. postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379) to run it",
  );
}

interface Server {
  readonly process: ChildProcess;
  readonly base: string;
  readonly output: () => string;
  readonly exited: Promise<void>;
}

function startServer(databaseUrl: string, port: number): Server {
  const child = spawn(process.execPath, [cli, "--db", databaseUrl, "serve", "--port", String(port)], {
    env: {
      ...process.env,
      REDIS_URL,
      LOG_LEVEL: "warn",
      HOST: "127.0.0.1",
      // Failed authentications from this machine elsewhere must not hold these servers back.
      AUTH_FAILURES_PER_MINUTE: "100000000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { process: child, base: `http://127.0.0.1:${port}`, output: () => out, exited };
}

async function waitReady(server: Server): Promise<void> {
  for (let tries = 0; ; tries++) {
    if (server.process.exitCode !== null) throw new Error(`the server exited:\n${server.output()}`);
    const ready = await fetch(`${server.base}/readyz`).catch(() => undefined);
    if (ready?.ok) return;
    if (tries > 400) throw new Error(`the server did not become ready:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopServer(server: Server): Promise<void> {
  if (server.process.exitCode === null && server.process.signalCode === null) {
    server.process.kill("SIGTERM");
    const killer = setTimeout(() => server.process.kill("SIGKILL"), 15_000);
    await server.exited;
    clearTimeout(killer);
  }
}

describe.skipIf(!twoProcesses)("billing across two server processes sharing PostgreSQL and Redis", () => {
  const databaseName = `tagpulse_billing_${randomBytes(5).toString("hex")}`;
  let databaseUrl: string;
  let operator: AppContext | undefined;
  let servers: Server[] = [];
  let created = false;

  async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    if (!fs.existsSync(cli)) throw new Error("dist/cli/main.js is missing: build it first (npm run build)");
    await admin((client) => client.query(`create database ${databaseName}`));
    created = true;
    const url = new URL(POSTGRES_URL!);
    url.pathname = `/${databaseName}`;
    databaseUrl = url.toString();
    operator = await createContext(loadConfig({}, { databaseUrl }));
    await seedWorld(operator);
    const ports = [await freePort(), await freePort()];
    servers = ports.map((port) => startServer(databaseUrl, port));
    await Promise.all(servers.map(waitReady));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(servers.map(stopServer));
    await operator?.close();
    if (created) await admin((client) => client.query(`drop database if exists ${databaseName} with (force)`));
  }, 60_000);

  /** `count` concurrent calls of `url` with `secret`, alternating between the two servers from server `first`. */
  async function hammer(url: string, secret: string, count: number, first = 0) {
    return Promise.all(
      Array.from({ length: count }, async (_, j) => {
        const i = first + j;
        const server = servers[i % servers.length]!;
        const response = await fetch(`${server.base}${url}`, { headers: { authorization: `Bearer ${secret}` } });
        const body = (await response.json()) as { code: number; data: unknown; error?: { type: string } };
        return {
          server: i % servers.length,
          status: response.status,
          requestId: response.headers.get("x-request-id")!,
          remaining: response.headers.get("x-credits-remaining"),
          body,
        };
      }),
    );
  }

  it("charges exactly floor(B / cost) of 80 concurrent calls spread over both processes, never below zero", async () => {
    const route = TRENDING;
    const B = 51;
    const account = await operator!.accounts.createAccount({ name: `shared-${randomBytes(3).toString("hex")}`, credits: B });
    const { secret } = await operator!.accounts.createKey({ account: account.id, rateLimit: 1_000_000 });
    // One call on each process first, so that both charge the account whatever the timing of the
    // 78 that then arrive at once (one process's batch may take every credit left).
    const responses = [...(await hammer(route.url, secret, 1, 0)), ...(await hammer(route.url, secret, 1, 1))];
    responses.push(...(await hammer(route.url, secret, 78)));
    const charged = Math.floor(B / route.cost);
    const ok = responses.filter((r) => r.status === 200);
    expect(ok).toHaveLength(charged);
    expect(responses.filter((r) => r.status !== 200).map((r) => r.status)).toEqual(Array(80 - charged).fill(402));
    // Both processes answered and charged.
    expect(new Set(ok.map((r) => r.server)).size).toBe(2);
    for (const r of responses) expect(Number(r.remaining)).toBeGreaterThanOrEqual(0);

    const balance = await balanceOf(operator!, account.id);
    expect(balance).toBe(B % route.cost);
    const ledger = await ledgerOf(operator!, account.id);
    expectLedgerAddsUp(ledger, balance);
    expect(ledger.filter((row) => row.kind === "charge")).toHaveLength(charged);
    expect(
      ledger
        .filter((row) => row.kind === "charge")
        .map((row) => row.request_id)
        .sort(),
    ).toEqual(ok.map((r) => r.requestId).sort());
    const usage = await usageOf(operator!, { accountId: account.id });
    expect(usage).toHaveLength(80);
    expect(usage.map((row) => row.request_id).sort()).toEqual(responses.map((r) => r.requestId).sort());
    expect(usage.reduce((sum, row) => sum + row.cost, 0)).toBe(charged * route.cost);
    for (const server of servers) expect(server.output()).not.toContain(secret);
  });

  it("shares a key's rate limit between both processes: exactly N calls in the minute succeed, the rest are 429 and free", async () => {
    const route = TRENDING;
    const N = 10;
    const account = await operator!.accounts.createAccount({ name: `limited-${randomBytes(3).toString("hex")}`, credits: 1000 });
    const { secret } = await operator!.accounts.createKey({ account: account.id, rateLimit: N });
    const responses = await hammer(route.url, secret, 3 * N);
    const ok = responses.filter((r) => r.status === 200);
    expect(ok).toHaveLength(N);
    const limited = responses.filter((r) => r.status !== 200);
    expect(limited.map((r) => r.status)).toEqual(Array(2 * N).fill(429));
    for (const r of limited) expect(r.body).toMatchObject({ code: 429, data: null, error: { type: "rate_limited" } });
    expect(new Set(limited.map((r) => r.server)).size).toBe(2);
    expect(await balanceOf(operator!, account.id)).toBe(1000 - N * route.cost);
    const usage = await usageOf(operator!, { accountId: account.id });
    expect(usage).toHaveLength(3 * N);
    expect(usage.filter((row) => row.status === 200).map((row) => row.cost)).toEqual(Array(N).fill(route.cost));
    expect(usage.filter((row) => row.status === 429).map((row) => row.cost)).toEqual(Array(2 * N).fill(0));
  });
});
