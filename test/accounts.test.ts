import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import bs58 from "bs58";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/config.js";
import { createContext, type AppContext } from "../src/context.js";
import { buildServer } from "../src/http/server.js";
import { createSimulation } from "../src/sources/simulator.js";
import { createTestContext, POSTGRES_URL, REDIS_URL, TEST_DATABASES, type TestContext } from "./databases.js";
import { newCaller } from "./keys.js";

const KEY_PATTERN = /^tp_live_[1-9A-HJ-NP-Za-km-z]{22,}$/;
const PAID = "/v1/tiktok/trending/hashtags";
const ADMIN_TOKEN = "admin-token-0123456789-abcdefgh";
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

type Headers = Record<string, string>;

interface Request {
  headers?: Headers;
  body?: unknown;
  /** The caller's address, so that failed authentications of one test do not count against another's. */
  from?: string;
}

const call = (app: FastifyInstance, method: "GET" | "POST", url: string, request: Request = {}) =>
  app.inject({
    method,
    url,
    headers: request.headers ?? {},
    ...(request.body === undefined ? {} : { payload: request.body as Record<string, unknown> }),
    remoteAddress: request.from ?? "127.0.0.1",
  });

/** The data of a success envelope, after checking the envelope and the status. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function success(response: LightMyRequestResponse, status = 200): any {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json<Record<string, unknown>>();
  expect(Object.keys(body).sort()).toEqual(["code", "data", "message", "requestId"]);
  expect(body).toMatchObject({ code: 0, message: "success", requestId: response.headers["x-request-id"] });
  return body.data;
}

/** Checks the error envelope: `param`, when given, is the parameter it must name. */
function failure(response: LightMyRequestResponse, status: number, type: string, param?: string): string {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json<{ message: string }>();
  expect(body).toEqual({
    code: status,
    message: expect.any(String),
    data: null,
    requestId: response.headers["x-request-id"],
    error: param === undefined ? expect.objectContaining({ type }) : { type, param },
  });
  return body.message;
}

/** Seconds in a Retry-After or RateLimit header: an integer within one window. */
function seconds(text: unknown): number {
  expect(text).toMatch(/^\d+$/);
  const value = Number(text);
  expect(value).toBeGreaterThanOrEqual(1);
  expect(value).toBeLessThanOrEqual(60);
  return value;
}

/** The `r` (remaining) of a RateLimit header, after checking its form. */
function remaining(response: LightMyRequestResponse): number {
  const header = String(response.headers["ratelimit"]);
  const match = /^"default";r=(\d+);t=(\d+)$/.exec(header);
  expect(match, header).not.toBeNull();
  seconds(match![2]);
  return Number(match![1]);
}

async function* asInput(values: Iterable<unknown>) {
  let line = 0;
  for (const value of values) yield { line: ++line, value };
}

/** A tiny world with charts, so that paid calls answer 200. */
async function buildTinyWorld(context: AppContext): Promise<void> {
  const simulation = createSimulation({ seed: 5, days: 2, videosPerDay: 40, startDay: 20_454 });
  await context.ingest.ingestCatalog(asInput(simulation.catalog));
  await context.ingest.ingestObservations(asInput(simulation.observations()));
  await context.engine.build();
}

const unique = (label: string) => `${label}-${randomBytes(4).toString("hex")}`;

/** A well-formed key that was never issued. */
const unknownKey = () => `tp_live_${bs58.encode(randomBytes(20))}`;

for (const database of TEST_DATABASES) {
  describe.skipIf(!database.enabled)(`API keys on ${database.name}`, () => {
    let context: TestContext;

    beforeAll(async () => {
      context = await createTestContext(database.name);
    });
    afterAll(async () => {
      await context?.dispose();
    });

    it("issues keys as tp_live_ and base58 carrying at least 128 random bits, each one different", async () => {
      const account = await context.accounts.createAccount({ name: unique("format") });
      const secrets = new Set<string>();
      for (let i = 0; i < 16; i++) {
        const { secret } = await context.accounts.createKey({ account: account.id });
        expect(secret).toMatch(KEY_PATTERN);
        expect(bs58.decode(secret.slice("tp_live_".length)).length).toBeGreaterThanOrEqual(16);
        secrets.add(secret);
      }
      expect(secrets.size).toBe(16);
    });

    it("stores only the SHA-256 hex of a key and a short prefix, never the secret", async () => {
      const account = await context.accounts.createAccount({ name: unique("stored") });
      const issued = [];
      for (let i = 0; i < 3; i++) issued.push(await context.accounts.createKey({ account: account.id, name: `k${i}` }));
      const rows = await context.database.db.selectFrom("api_keys").selectAll().where("account_id", "=", account.id).execute();
      expect(rows).toHaveLength(3);
      for (const { key, secret } of issued) {
        const row = rows.find((r) => r.id === key.id)!;
        expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(row.hash).toBe(createHash("sha256").update(secret).digest("hex"));
        expect(secret.startsWith(row.prefix)).toBe(true);
        expect(row.prefix.startsWith("tp_live_")).toBe(true);
        // What is kept in the clear leaves at least 22 base58 characters (> 128 bits) unknown.
        const hidden = secret.slice(row.prefix.length);
        expect(hidden.length).toBeGreaterThanOrEqual(22);
        for (const other of rows) {
          for (const [column, value] of Object.entries(other)) {
            expect(String(value), `api_keys.${column}`).not.toContain(secret);
            expect(String(value), `api_keys.${column}`).not.toContain(hidden);
          }
        }
      }
    });

    it("lists and reads keys without their secret or hash", async () => {
      const account = await context.accounts.createAccount({ name: unique("listed") });
      const { key, secret } = await context.accounts.createKey({ account: account.name, name: "listed", rateLimit: 7 });
      const hash = createHash("sha256").update(secret).digest("hex");
      const mine = await context.accounts.listKeys({ account: account.name });
      const all = await context.accounts.listKeys();
      const one = await context.accounts.getKey(key.id);
      expect(mine.map((k) => k.id)).toEqual([key.id]);
      expect(all.map((k) => k.id)).toContain(key.id);
      expect(one).toMatchObject({ id: key.id, account_id: account.id, name: "listed", rate_limit: 7, revoked_at: null });
      for (const listed of [mine, all, one, key]) {
        const text = JSON.stringify(listed);
        expect(text).not.toContain(secret);
        expect(text).not.toContain(secret.slice(key.prefix.length));
        expect(text).not.toContain(hash);
      }
      expect(Object.keys(one).sort()).toEqual([
        "account_id",
        "created_at",
        "id",
        "last_used_at",
        "name",
        "prefix",
        "rate_limit",
        "revoked_at",
      ]);
    });
  });

  describe.skipIf(!database.enabled)(`the admin API on ${database.name}`, () => {
    let context: TestContext;
    let app: FastifyInstance;
    const admin = (method: "GET" | "POST", url: string, body?: unknown) =>
      call(app, method, `/admin/v1${url}`, { headers: ADMIN, ...(body === undefined ? {} : { body }) });

    beforeAll(async () => {
      context = await createTestContext(database.name, { ADMIN_TOKEN });
      app = (await buildServer(context, { logger: false })).app;
    });
    afterAll(async () => {
      await app?.close();
      await context?.dispose();
    });

    it("refuses a request without the admin token or with a wrong one with a 401, and does nothing", async () => {
      const name = unique("intruder");
      const refused: Headers[] = [
        {},
        { authorization: `Bearer ${ADMIN_TOKEN}x` },
        { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` },
        { authorization: ADMIN_TOKEN },
        { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` },
      ];
      for (const headers of refused) {
        failure(await call(app, "GET", "/admin/v1/accounts", { headers, from: "10.1.0.1" }), 401, "unauthorized");
        failure(await call(app, "POST", "/admin/v1/accounts", { headers, body: { name }, from: "10.1.0.1" }), 401, "unauthorized");
      }
      const list = success(await admin("GET", "/accounts")).list as { name: string }[];
      expect(list.map((a) => a.name)).not.toContain(name);
    });

    it("creates an account with a 201, refuses a duplicate name with a 409 and bad input with a 400 naming the field", async () => {
      const name = unique("created");
      const created = success(await admin("POST", "/accounts", { name, credits: 250 }), 201);
      expect(created).toEqual({ id: expect.stringMatching(/^acct_/), name, balance: 250, created_at: expect.any(String) });
      failure(await admin("POST", "/accounts", { name, credits: 1 }), 409, "conflict", "name");
      failure(await admin("POST", "/accounts", { name: unique("negative"), credits: -1 }), 400, "invalid_parameter", "credits");
      failure(await admin("POST", "/accounts", { name: unique("fraction"), credits: 1.5 }), 400, "invalid_parameter", "credits");
      failure(await admin("POST", "/accounts", { credits: 10 }), 400, "invalid_parameter", "name");
      failure(await admin("POST", "/accounts", { name: "" }), 400, "invalid_parameter", "name");
      const stray = unique("stray");
      failure(await admin("POST", "/accounts", { name: stray, colour: "red" }), 400, "invalid_parameter", "colour");
      const names = (success(await admin("GET", "/accounts")).list as { name: string }[]).map((a) => a.name);
      expect(names.filter((n) => n === name)).toHaveLength(1);
      expect(names).not.toContain(stray);
    });

    it("lists accounts and finds one by id or by name, with a 404 for an unknown one", async () => {
      const first = success(await admin("POST", "/accounts", { name: unique("first") }), 201);
      const second = success(await admin("POST", "/accounts", { name: unique("second"), credits: 9 }), 201);
      const list = success(await admin("GET", "/accounts")).list as { id: string }[];
      expect(list).toEqual(expect.arrayContaining([first, second]));
      expect(success(await admin("GET", `/accounts/${second.id}`))).toEqual(second);
      expect(success(await admin("GET", `/accounts/${encodeURIComponent(second.name)}`))).toEqual(second);
      failure(await admin("GET", "/accounts/nobody-by-that-name"), 404, "not_found");
      failure(await admin("GET", "/accounts/acct_1111111111111111"), 404, "not_found");
    });

    it("issues a key whose secret appears only in the issuing response, and lists it without the secret", async () => {
      const account = success(await admin("POST", "/accounts", { name: unique("keyed"), credits: 5 }), 201);
      const issued = success(await admin("POST", `/accounts/${account.name}/keys`, { name: "ci", rate_limit: 30 }), 201);
      expect(Object.keys(issued).sort()).toEqual(["key", "secret"]);
      expect(issued.secret).toMatch(KEY_PATTERN);
      expect(issued.key).toMatchObject({
        id: expect.stringMatching(/^key_/),
        account_id: account.id,
        name: "ci",
        rate_limit: 30,
        revoked_at: null,
      });
      expect(issued.secret.startsWith(issued.key.prefix)).toBe(true);
      const plain = success(await admin("POST", `/accounts/${account.id}/keys`, {}), 201);
      expect(plain.key).toMatchObject({ name: "default", rate_limit: null });

      const listed = await admin("GET", `/accounts/${account.id}/keys`);
      const list = success(listed).list as { id: string }[];
      // Oldest first (two keys issued within the same millisecond may come in either order).
      if (issued.key.created_at === plain.key.created_at) {
        expect(list.map((k) => k.id).sort()).toEqual([issued.key.id, plain.key.id].sort());
      } else {
        expect(list.map((k) => k.id)).toEqual([issued.key.id, plain.key.id]);
      }
      expect(list.find((k) => k.id === issued.key.id)).toEqual(issued.key);
      expect(listed.body).not.toContain(issued.secret);
      expect(listed.body).not.toContain(plain.secret);
      expect(listed.body).not.toContain(issued.secret.slice(issued.key.prefix.length));

      // The key works.
      expect((await call(app, "GET", "/v1/account", { headers: { authorization: `Bearer ${issued.secret}` } })).statusCode).toBe(200);
      failure(await admin("POST", `/accounts/${account.id}/keys`, { rate_limit: 0 }), 400, "invalid_parameter", "rate_limit");
      failure(await admin("POST", "/accounts/nobody-by-that-name/keys", {}), 404, "not_found");
      failure(await admin("GET", "/accounts/nobody-by-that-name/keys"), 404, "not_found");
    });

    it("issues a key with the default name and rate limit when the request has no body", async () => {
      const account = success(await admin("POST", "/accounts", { name: unique("bodiless") }), 201);
      const issued = success(await admin("POST", `/accounts/${account.id}/keys`), 201);
      expect(issued.secret).toMatch(KEY_PATTERN);
      expect(issued.key).toMatchObject({ account_id: account.id, name: "default", rate_limit: null });
    });

    it("grants credits with a 201 and a ledger entry, and refuses an amount of 0 or a non-integer with a 400 naming amount", async () => {
      const account = success(await admin("POST", "/accounts", { name: unique("granted"), credits: 100 }), 201);
      const granted = await admin("POST", `/accounts/${account.id}/grants`, { amount: 250, reason: "top-up" });
      const data = success(granted, 201);
      expect(data.account).toMatchObject({ id: account.id, balance: 350 });
      expect(data.entry).toMatchObject({
        account_id: account.id,
        kind: "grant",
        amount: 250,
        balance_after: 350,
        reason: "top-up",
        request_id: granted.headers["x-request-id"],
      });
      expect(success(await admin("GET", `/accounts/${account.id}`)).balance).toBe(350);
      const ledger = success(await admin("GET", `/accounts/${account.id}/ledger`)).list;
      expect(ledger[0]).toEqual(data.entry);

      for (const amount of [0, -5, 1.5, "ten"]) {
        failure(await admin("POST", `/accounts/${account.id}/grants`, { amount }), 400, "invalid_parameter", "amount");
      }
      failure(await admin("POST", `/accounts/${account.id}/grants`, {}), 400, "invalid_parameter", "amount");
      failure(await admin("POST", "/accounts/nobody-by-that-name/grants", { amount: 5 }), 404, "not_found");
      expect(success(await admin("GET", `/accounts/${account.id}`)).balance).toBe(350);
      expect(success(await admin("GET", `/accounts/${account.id}/ledger`)).list).toHaveLength(2);
    });

    it("lists an account's ledger newest first", async () => {
      const account = success(await admin("POST", "/accounts", { name: unique("ledger"), credits: 10 }), 201);
      success(await admin("POST", `/accounts/${account.name}/grants`, { amount: 5 }), 201);
      success(await admin("POST", `/accounts/${account.name}/grants`, { amount: 7, reason: "third" }), 201);
      const ledger = success(await admin("GET", `/accounts/${account.name}/ledger`)).list as {
        id: number;
        amount: number;
        balance_after: number;
        reason: string;
      }[];
      expect(ledger.map((e) => [e.amount, e.balance_after, e.reason])).toEqual([
        [7, 22, "third"],
        [5, 15, "grant"],
        [10, 10, "initial credits"],
      ]);
      expect(ledger[0]!.id).toBeGreaterThan(ledger[1]!.id);
      expect(ledger[1]!.id).toBeGreaterThan(ledger[2]!.id);
      expect(success(await admin("GET", `/accounts/${account.name}/ledger?limit=1`)).list).toHaveLength(1);
      failure(await admin("GET", `/accounts/${account.name}/ledger?limit=0`), 400, "invalid_parameter", "limit");
    });

    it("revokes a key: later calls with it, paid ones included, are refused with a 401 and charge nothing", async () => {
      const account = success(await admin("POST", "/accounts", { name: unique("revoked"), credits: 100 }), 201);
      const { key, secret } = success(await admin("POST", `/accounts/${account.id}/keys`, {}), 201);
      const headers = { authorization: `Bearer ${secret}` };
      // Used once, so that the server knows the key when it is revoked.
      expect((await call(app, "GET", "/v1/account", { headers })).statusCode).toBe(200);
      const revoked = success(await admin("POST", `/keys/${key.id}/revoke`));
      expect(revoked).toMatchObject({ id: key.id, revoked_at: expect.any(String) });
      failure(await call(app, "GET", PAID, { headers }), 401, "unauthorized");
      failure(await call(app, "GET", "/v1/account", { headers }), 401, "unauthorized");
      const keys = success(await admin("GET", `/accounts/${account.id}/keys`)).list;
      expect(keys[0]).toMatchObject({ id: key.id, revoked_at: revoked.revoked_at });
      expect(success(await admin("GET", `/accounts/${account.id}`)).balance).toBe(100);
      failure(await admin("POST", "/keys/key_1111111111111111/revoke"), 404, "not_found");
    });

    it("refunds a call's charge once, by its request id: a 201 and a refund entry, then 409 for the same call and 404 for an unknown one", async () => {
      const account = success(await admin("POST", "/accounts", { name: unique("refund"), credits: 10 }), 201);
      const { secret } = success(await admin("POST", `/accounts/${account.id}/keys`, {}), 201);
      const caller = (await context.billing.authenticate(secret))!;
      const charge = (requestId: string) =>
        context.billing.settle({ caller, cost: 2, status: 200, requestId, method: "GET", route: PAID, latencyMs: 1 });
      expect(await charge("req-refund-1")).toMatchObject({ status: 200, charged: 2, balance: 8 });
      expect(await charge("req-refund-2")).toMatchObject({ status: 200, charged: 2, balance: 6 });

      const refunded = success(await admin("POST", "/refunds", { request_id: "req-refund-1", reason: "chart was stale" }), 201);
      expect(refunded.account.balance).toBe(8);
      expect(refunded.entry).toMatchObject({
        kind: "refund",
        amount: 2,
        balance_after: 8,
        reason: "chart was stale",
        request_id: "req-refund-1",
      });
      failure(await admin("POST", "/refunds", { request_id: "req-refund-1" }), 409, "conflict");
      failure(await admin("POST", "/refunds", { request_id: "req-never-made" }), 404, "not_found");
      failure(await admin("POST", "/refunds", {}), 400, "invalid_parameter");

      // Two operators refunding the same call at once: one refund.
      const both = await Promise.all([
        admin("POST", "/refunds", { request_id: "req-refund-2" }),
        admin("POST", "/refunds", { request_id: "req-refund-2" }),
      ]);
      expect(both.map((r) => r.statusCode).sort()).toEqual([201, 409]);
      expect(success(await admin("GET", `/accounts/${account.id}`)).balance).toBe(10);
      const ledger = success(await admin("GET", `/accounts/${account.id}/ledger`)).list as { kind: string; amount: number }[];
      expect(ledger.map((e) => e.kind)).toEqual(["refund", "refund", "charge", "charge", "grant"]);
    });

    it("reports usage of every account, of one account (by id or name) or of one key", async () => {
      const a = success(await admin("POST", "/accounts", { name: unique("usage-a") }), 201);
      const b = success(await admin("POST", "/accounts", { name: unique("usage-b") }), 201);
      const a1 = success(await admin("POST", `/accounts/${a.id}/keys`, {}), 201);
      const a2 = success(await admin("POST", `/accounts/${a.id}/keys`, { name: "second" }), 201);
      const b1 = success(await admin("POST", `/accounts/${b.id}/keys`, {}), 201);
      for (const issued of [a1, a1, a2, b1]) {
        const response = await call(app, "GET", "/v1/account", { headers: { authorization: `Bearer ${issued.secret}` } });
        expect(response.statusCode).toBe(200);
      }
      type Report = { recent: { key_id: string; route: string; status: number; cost: number }[]; daily: { calls: number }[] };
      const byAccount: Report = success(await admin("GET", `/usage?account=${a.id}&limit=100`));
      expect(byAccount.recent.map((r) => r.key_id).sort()).toEqual([a1.key.id, a1.key.id, a2.key.id].sort());
      expect(byAccount.recent.every((r) => r.route === "/v1/account" && r.status === 200 && r.cost === 0)).toBe(true);
      expect(byAccount.daily.reduce((sum, d) => sum + d.calls, 0)).toBe(3);
      const byName: Report = success(await admin("GET", `/usage?account=${encodeURIComponent(a.name)}&limit=100`));
      expect(byName).toEqual(byAccount);
      const byKey: Report = success(await admin("GET", `/usage?key=${a2.key.id}`));
      expect(byKey.recent.map((r) => r.key_id)).toEqual([a2.key.id]);
      expect(byKey.daily.reduce((sum, d) => sum + d.calls, 0)).toBe(1);
      const ofB: Report = success(await admin("GET", `/usage?account=${b.id}`));
      expect(ofB.recent.map((r) => r.key_id)).toEqual([b1.key.id]);
      const everyone: Report = success(await admin("GET", "/usage?limit=1000"));
      const ids = new Set(everyone.recent.map((r) => r.key_id));
      for (const issued of [a1, a2, b1]) expect(ids.has(issued.key.id)).toBe(true);
      failure(await admin("GET", "/usage?account=nobody-by-that-name"), 404, "not_found");
      failure(await admin("GET", "/usage?limit=0"), 400, "invalid_parameter", "limit");
    });
  });

  describe.skipIf(!database.enabled)(`the account routes on ${database.name}`, () => {
    let context: TestContext;
    let app: FastifyInstance;

    beforeAll(async () => {
      context = await createTestContext(database.name, { RATE_LIMIT_PER_MINUTE: "50" });
      await buildTinyWorld(context);
      app = (await buildServer(context, { logger: false })).app;
    }, 120_000);
    afterAll(async () => {
      await app?.close();
      await context?.dispose();
    });

    it("refuses GET /v1/account without a valid key with a 401", async () => {
      const refused: Headers[] = [
        {},
        { authorization: "Bearer " },
        { authorization: `Bearer ${unknownKey()}` },
        { authorization: "Basic abc" },
      ];
      for (const headers of refused) {
        failure(await call(app, "GET", "/v1/account", { headers, from: "10.2.0.1" }), 401, "unauthorized");
        failure(await call(app, "GET", "/v1/account/usage", { headers, from: "10.2.0.1" }), 401, "unauthorized");
      }
    });

    it("describes the caller's account, key and rate limit for free, never showing the secret", async () => {
      const caller = await newCaller(context, { credits: 40, rateLimit: null });
      const account = await context.accounts.getAccount(caller.accountId);
      const first = await call(app, "GET", "/v1/account", { headers: caller.headers });
      const data = success(first);
      expect(Object.keys(data).sort()).toEqual(["account", "key", "rate_limit"]);
      expect(data.account).toMatchObject({ id: caller.accountId, name: account.name, balance: 40 });
      expect(data.key).toMatchObject({ id: caller.keyId, name: "default", prefix: caller.secret.slice(0, data.key.prefix.length) });
      expect(data.key.prefix.length).toBeLessThanOrEqual(caller.secret.length - 22);
      expect(data.rate_limit).toEqual({ limit: 50, remaining: 49, reset_seconds: expect.any(Number), window_seconds: 60 });
      seconds(String(data.rate_limit.reset_seconds));
      expect(first.body).not.toContain(caller.secret);
      expect(first.body).not.toContain(caller.secret.slice(data.key.prefix.length));
      expect(first.body).not.toContain(createHash("sha256").update(caller.secret).digest("hex"));
      expect(first.headers["x-credits-cost"]).toBe("0");
      expect(first.headers["x-credits-remaining"]).toBe("40");

      const second = await call(app, "GET", "/v1/account", { headers: caller.headers });
      expect(success(second).rate_limit.remaining).toBe(48);
      expect(success(second).account.balance).toBe(40);
      expect(second.headers["x-credits-cost"]).toBe("0");
      expect((await context.accounts.getAccount(caller.accountId)).balance).toBe(40);
      expect(await context.accounts.ledger({ account: caller.accountId })).toHaveLength(1);
    });

    it("lists the account's recent calls newest first, paid ones included, with a per-day summary that adds up", async () => {
      const caller = await newCaller(context, { credits: 100 });
      const other = await newCaller(context, { credits: 100 });
      const as = (id: string, headers = caller.headers) => ({ headers: { ...headers, "x-request-id": id } });
      for (const id of ["paid-1", "paid-2"]) {
        const paid = await call(app, "GET", PAID, as(id));
        expect(paid.statusCode, paid.body).toBe(200);
        expect(paid.headers["x-credits-cost"]).toBe("2");
      }
      expect((await call(app, "GET", PAID, as("someone-else", other.headers))).statusCode).toBe(200);
      failure(await call(app, "GET", `${PAID}?period=9`, as("refused")), 400, "invalid_parameter", "period");
      expect((await call(app, "GET", "/v1/account", as("free-1"))).statusCode).toBe(200);

      const usage = await call(app, "GET", "/v1/account/usage", as("usage-1"));
      const report = success(usage) as {
        recent: { request_id: string; key_id: string; method: string; route: string; status: number; cost: number; created_at: string }[];
        daily: { day: string; calls: number; charged_calls: number; credits: number }[];
      };
      expect(report.recent.map((r) => r.request_id)).toEqual(["free-1", "refused", "paid-2", "paid-1"]);
      expect(report.recent.map((r) => [r.route, r.status, r.cost])).toEqual([
        ["/v1/account", 200, 0],
        [PAID, 400, 0],
        [PAID, 200, 2],
        [PAID, 200, 2],
      ]);
      for (const r of report.recent) expect(r).toMatchObject({ key_id: caller.keyId, method: "GET" });
      const times = report.recent.map((r) => Date.parse(r.created_at));
      expect(times).toEqual([...times].sort((x, y) => y - x));
      expect(report.daily.map((d) => d.day)).toContain(new Date().toISOString().slice(0, 10));
      const total = (field: "calls" | "charged_calls" | "credits") => report.daily.reduce((sum, d) => sum + d[field], 0);
      expect(total("calls")).toBe(report.recent.length);
      expect(total("charged_calls")).toBe(2);
      expect(total("credits")).toBe(4);
      expect(usage.headers["x-credits-cost"]).toBe("0");
      expect(usage.headers["x-credits-remaining"]).toBe("96");

      const newest = success(await call(app, "GET", "/v1/account/usage?limit=2", as("usage-2")));
      // The previous usage call is the newest now.
      expect(newest.recent.map((r: { request_id: string }) => r.request_id)).toEqual(["usage-1", "free-1"]);
      expect((await context.accounts.getAccount(caller.accountId)).balance).toBe(96);
    });

    it("refuses limit=0 and other out-of-range usage parameters with a 400 naming the parameter", async () => {
      const caller = await newCaller(context);
      for (const [query, param] of [
        ["limit=0", "limit"],
        ["limit=1001", "limit"],
        ["limit=abc", "limit"],
        ["days=0", "days"],
        ["days=367", "days"],
      ] as const) {
        const message = failure(
          await call(app, "GET", `/v1/account/usage?${query}`, { headers: caller.headers }),
          400,
          "invalid_parameter",
          param,
        );
        expect(message).toContain(param);
      }
    });
  });

  describe.skipIf(!database.enabled)(`rate limits on ${database.name}`, () => {
    // One server for every test: budgets are per key and failure counts per address, and each test has its own.
    let context: TestContext;
    let app: FastifyInstance;

    beforeAll(async () => {
      context = await createTestContext(database.name, { RATE_LIMIT_PER_MINUTE: "3", AUTH_FAILURES_PER_MINUTE: "3", ADMIN_TOKEN });
      app = (await buildServer(context, { logger: false })).app;
    });
    afterAll(async () => {
      await app?.close();
      await context?.dispose();
    });

    it("refuses the 4th call of a minute at a default of 3 with a 429, Retry-After and RateLimit headers", async () => {
      const caller = await newCaller(context, { credits: 100, rateLimit: null });
      const left = [];
      for (let i = 0; i < 3; i++) {
        const response = await call(app, "GET", "/v1/account", { headers: caller.headers });
        expect(response.statusCode).toBe(200);
        expect(response.headers["ratelimit-policy"]).toBe('"default";q=3;w=60');
        left.push(remaining(response));
      }
      expect(left).toEqual([2, 1, 0]);
      for (const url of ["/v1/account", PAID]) {
        const refused = await call(app, "GET", url, { headers: caller.headers });
        const message = failure(refused, 429, "rate_limited");
        expect(message).toContain("3 requests per minute");
        seconds(refused.headers["retry-after"]);
        expect(refused.headers["ratelimit-policy"]).toBe('"default";q=3;w=60');
        expect(remaining(refused)).toBe(0);
        expect(refused.headers["x-credits-cost"] ?? "0").toBe("0");
      }
      expect((await context.accounts.getAccount(caller.accountId)).balance).toBe(100);
    });

    it("applies a key's own rate limit instead of the default, higher or lower", async () => {
      const generous = await newCaller(context, { rateLimit: 5 });
      for (let i = 0; i < 5; i++) {
        const response = await call(app, "GET", "/v1/account", { headers: generous.headers });
        expect(response.statusCode).toBe(200);
        expect(response.headers["ratelimit-policy"]).toBe('"default";q=5;w=60');
        expect(remaining(response)).toBe(4 - i);
        expect(success(response).rate_limit).toMatchObject({ limit: 5, remaining: 4 - i, window_seconds: 60 });
      }
      failure(await call(app, "GET", "/v1/account", { headers: generous.headers }), 429, "rate_limited");

      const strict = await newCaller(context, { rateLimit: 1 });
      expect((await call(app, "GET", "/v1/account", { headers: strict.headers })).statusCode).toBe(200);
      const refused = await call(app, "GET", "/v1/account", { headers: strict.headers });
      failure(refused, 429, "rate_limited");
      expect(refused.headers["ratelimit-policy"]).toBe('"default";q=1;w=60');
    });

    it("counts each key against a budget of its own, keys of one account included", async () => {
      const first = await newCaller(context, { rateLimit: null });
      const sibling = await context.accounts.createKey({ account: first.accountId, name: "sibling" });
      const stranger = await newCaller(context, { rateLimit: null });
      for (let i = 0; i < 3; i++) expect((await call(app, "GET", "/v1/account", { headers: first.headers })).statusCode).toBe(200);
      failure(await call(app, "GET", "/v1/account", { headers: first.headers }), 429, "rate_limited");
      for (const headers of [{ authorization: `Bearer ${sibling.secret}` }, stranger.headers]) {
        const response = await call(app, "GET", "/v1/account", { headers });
        expect(response.statusCode).toBe(200);
        expect(remaining(response)).toBe(2);
      }
    });

    it("after 3 failed authentications from an address, refuses its 4th attempt with a 429 and Retry-After, while a recently used key from there still works", async () => {
      const caller = await newCaller(context);
      const from = "10.3.0.1";
      expect((await call(app, "GET", "/v1/account", { headers: caller.headers, from })).statusCode).toBe(200);
      const bad: Headers[] = [{ authorization: `Bearer ${unknownKey()}` }, {}, { authorization: "Bearer tp_live_0OIl" }];
      for (const headers of bad) failure(await call(app, "GET", PAID, { headers, from }), 401, "unauthorized");
      const blocked = await call(app, "GET", PAID, { headers: { authorization: `Bearer ${unknownKey()}` }, from });
      failure(blocked, 429, "rate_limited");
      seconds(blocked.headers["retry-after"]);
      // Still blocked: the next attempt, of any kind of failure, is refused too.
      failure(await call(app, "GET", "/v1/account", { headers: {}, from }), 429, "rate_limited");
      // A key this server used a moment ago still works from that address.
      expect((await call(app, "GET", "/v1/account", { headers: caller.headers, from })).statusCode).toBe(200);
      // Another address is not affected.
      failure(
        await call(app, "GET", PAID, { headers: { authorization: `Bearer ${unknownKey()}` }, from: "10.3.0.2" }),
        401,
        "unauthorized",
      );
    });

    it("after 3 failed admin authentications from an address, refuses its 4th attempt with a 429 and Retry-After", async () => {
      const from = "10.4.0.1";
      const wrong: Headers[] = [{}, { authorization: "Bearer wrong-token-0123456789" }, { authorization: `Bearer ${ADMIN_TOKEN}!` }];
      for (const headers of wrong) {
        failure(await call(app, "GET", "/admin/v1/accounts", { headers, from }), 401, "unauthorized");
      }
      const blocked = await call(app, "GET", "/admin/v1/accounts", { headers: { authorization: "Bearer wrong-again-0123456789" }, from });
      failure(blocked, 429, "rate_limited");
      seconds(blocked.headers["retry-after"]);
      failure(await call(app, "GET", "/admin/v1/accounts", { headers: {}, from: "10.4.0.2" }), 401, "unauthorized");
    });
  });

  describe.skipIf(!database.enabled || !REDIS_URL)(`rate limits shared through Redis on ${database.name} (needs TEST_REDIS_URL)`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    /** Two contexts of one database, as two server processes would have. */
    async function twoContexts(env: NodeJS.ProcessEnv): Promise<[AppContext, AppContext]> {
      if (database.name === "SQLite") {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-shared-"));
        const config = loadConfig(env, { databaseUrl: path.join(dir, "shared.db") });
        const first = await createContext(config);
        const second = await createContext(config);
        cleanup = async () => {
          await first.close();
          await second.close();
          fs.rmSync(dir, { recursive: true, force: true });
        };
        return [first, second];
      }
      const schema = `test_${randomBytes(6).toString("hex")}`;
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`create schema ${schema}`);
      await client.end();
      const config = loadConfig(env, { databaseUrl: POSTGRES_URL! });
      const first = await createContext(config, { databaseSchema: schema });
      const second = await createContext(config, { databaseSchema: schema });
      cleanup = async () => {
        await first.close();
        await second.close();
        const dropper = new pg.Client({ connectionString: POSTGRES_URL });
        await dropper.connect();
        await dropper.query(`drop schema ${schema} cascade`);
        await dropper.end();
      };
      return [first, second];
    }

    it("enforces one key's limit across two servers together", async () => {
      const [first, second] = await twoContexts({ REDIS_URL, RATE_LIMIT_PER_MINUTE: "3" });
      expect(first.rateLimits.shared).toBe(true);
      const a = (await buildServer(first, { logger: false })).app;
      const b = (await buildServer(second, { logger: false })).app;
      const previous = cleanup!;
      cleanup = async () => {
        await a.close();
        await b.close();
        await previous();
      };
      const caller = await newCaller(first, { rateLimit: null });
      const left = [];
      for (const app of [a, b, a]) {
        const response = await call(app, "GET", "/v1/account", { headers: caller.headers });
        expect(response.statusCode).toBe(200);
        left.push(remaining(response));
      }
      expect(left).toEqual([2, 1, 0]);
      for (const app of [b, a]) {
        const refused = await call(app, "GET", "/v1/account", { headers: caller.headers });
        failure(refused, 429, "rate_limited");
        seconds(refused.headers["retry-after"]);
      }
      // Another key starts with a full budget on either server.
      const fresh = await newCaller(second, { rateLimit: null });
      expect(remaining(await call(a, "GET", "/v1/account", { headers: fresh.headers }))).toBe(2);
      expect(remaining(await call(b, "GET", "/v1/account", { headers: fresh.headers }))).toBe(1);
    });
  });
}

describe("the admin API without ADMIN_TOKEN", () => {
  it("does not exist: every admin route answers 404", async () => {
    const context = await createTestContext("SQLite");
    const { app } = await buildServer(context, { logger: false });
    try {
      failure(await call(app, "GET", "/admin/v1/accounts", { headers: ADMIN }), 404, "not_found");
      failure(await call(app, "POST", "/admin/v1/accounts", { headers: ADMIN, body: { name: "x" } }), 404, "not_found");
      failure(await call(app, "GET", "/admin/v1/usage", { headers: ADMIN }), 404, "not_found");
      expect(await context.accounts.listAccounts()).toEqual([]);
      const document = (await call(app, "GET", "/openapi.json")).json<{ paths: Record<string, unknown> }>();
      expect(Object.keys(document.paths).some((p) => p.startsWith("/admin"))).toBe(false);
    } finally {
      await app.close();
      await context.dispose();
    }
  });
});
