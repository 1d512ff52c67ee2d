import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_ACCOUNT, seedDemoAccount } from "../src/cli/demo-command.js";
import { loadConfig } from "../src/config/config.js";
import { createContext, type AppContext } from "../src/context.js";
import { buildServer } from "../src/http/server.js";
import { createTestContext, TEST_DATABASES } from "./databases.js";

const run = promisify(execFile);
const cli = path.resolve("dist/cli/main.js");
const SECRET = /tp_live_[1-9A-HJ-NP-Za-km-z]{22,}/g;
const today = () => new Date().toISOString().slice(0, 10);
let dir: string;
let dbFile: string;

async function tagpulse(...args: string[]) {
  return run(process.execPath, [cli, "--db", dbFile, ...args], { cwd: dir, maxBuffer: 1 << 24 });
}

async function tagpulseJson<T = unknown>(...args: string[]): Promise<T> {
  return JSON.parse((await tagpulse(...args, "--json")).stdout) as T;
}

/** The database the commands write, opened in this process: for setting up and checking what the commands did. */
async function withDatabase<T>(use: (context: AppContext) => Promise<T>): Promise<T> {
  const context = await createContext(loadConfig({}, { databaseUrl: dbFile }));
  try {
    return await use(context);
  } finally {
    await context.close();
  }
}

/** A server on the database the commands write: the status of a GET with a key. */
async function withServer<T>(use: (context: AppContext, get: (url: string, secret: string) => Promise<number>) => Promise<T>): Promise<T> {
  return withDatabase(async (context) => {
    const { app } = await buildServer(context, { logger: false });
    try {
      return await use(
        context,
        async (url, secret) => (await app.inject({ method: "GET", url, headers: { authorization: `Bearer ${secret}` } })).statusCode,
      );
    } finally {
      await app.close();
    }
  });
}

interface Account {
  id: string;
  name: string;
  balance: number;
}

interface Key {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  rate_limit: number | null;
  revoked_at: string | null;
}

describe("the account commands", () => {
  beforeAll(() => {
    if (!fs.existsSync(cli)) throw new Error("dist/cli/main.js is missing: build it first (npm run build)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tagpulse-accounts-cli-"));
    dbFile = path.join(dir, "accounts.db");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("creates accounts and lists them", async () => {
    const created = await tagpulse("accounts", "create", "alpha", "--credits", "500");
    expect(created.stdout).toMatch(/^created acct_\S+ {2}alpha {2}balance 500 credits {2}created \d{4}-\d\d-\d\dT/);
    const beta = await tagpulseJson<Account>("accounts", "create", "beta");
    expect(beta).toEqual({ id: expect.stringMatching(/^acct_/), name: "beta", balance: 0, created_at: expect.any(String) });
    const listed = (await tagpulse("accounts", "list")).stdout.trimEnd().split("\n");
    const alpha = listed.findIndex((line) => / {2}alpha {2}balance 500 credits /.test(line));
    expect(alpha).toBeGreaterThanOrEqual(0);
    expect(listed.findIndex((line) => line.startsWith(`${beta.id}  beta  balance 0 credits `))).toBeGreaterThan(alpha);
    const stored = await withDatabase((context) => context.accounts.listAccounts());
    expect(stored.map((a) => [a.name, a.balance])).toEqual(
      expect.arrayContaining([
        ["alpha", 500],
        ["beta", 0],
      ]),
    );
  });

  it("issues a key, printing its secret once with a warning, or {key, secret} with --json, and lists keys without secrets", async () => {
    await withDatabase((context) => context.accounts.createAccount({ name: "gamma", credits: 10 }));
    const human = (await tagpulse("keys", "create", "--account", "gamma", "--name", "ci", "--rate-limit", "30")).stdout;
    const shown = human.match(SECRET) ?? [];
    expect(shown).toHaveLength(1);
    const first = shown[0]!;
    expect(human).toMatch(/^issued key_\S+ {2}tp_live_\S+… {2}ci {2}account acct_\S+ {2}30\/min/);
    expect(human).toContain("This is the only time the key is shown: store it now.");

    const issued = await tagpulseJson<{ key: Key; secret: string }>("keys", "create", "--account", "gamma");
    expect(Object.keys(issued).sort()).toEqual(["key", "secret"]);
    expect(issued.secret).toMatch(new RegExp(`^${SECRET.source}$`));
    expect(issued.key).toMatchObject({ id: expect.stringMatching(/^key_/), name: "default", rate_limit: null, revoked_at: null });
    expect(issued.secret.startsWith(issued.key.prefix)).toBe(true);

    const listing = (await tagpulse("keys", "list", "--account", "gamma")).stdout;
    const lines = listing.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^key_\S+ {2}tp_live_\S+… {2}ci {2}account acct_\S+ {2}30\/min {2}last used never$/);
    expect(lines[1]).toContain(`${issued.key.id}  ${issued.key.prefix}…  default`);
    for (const secret of [first, issued.secret]) {
      expect(listing).not.toContain(secret);
      expect(listing).not.toContain(secret.slice(issued.key.prefix.length));
      expect(listing).not.toContain(createHash("sha256").update(secret).digest("hex"));
    }

    // Both keys work against a server on that database, which stores only their hashes.
    await withServer(async (context, get) => {
      expect(await get("/v1/account", first)).toBe(200);
      expect(await get("/v1/account", issued.secret)).toBe(200);
      const rows = await context.database.db.selectFrom("api_keys").select(["hash", "prefix"]).execute();
      expect(rows.map((r) => r.hash)).toContain(createHash("sha256").update(issued.secret).digest("hex"));
      expect(JSON.stringify(rows)).not.toContain(issued.secret);
    });
  });

  it("revokes a key: servers refuse it from then on", async () => {
    const { key, secret } = await withServer(async (context, get) => {
      await context.accounts.createAccount({ name: "delta" });
      const created = await context.accounts.createKey({ account: "delta" });
      expect(await get("/v1/account", created.secret)).toBe(200);
      return created;
    });
    const revoked = (await tagpulse("keys", "revoke", key.id)).stdout;
    expect(revoked).toMatch(new RegExp(`^revoked ${key.id} .* revoked \\d{4}-\\d\\d-\\d\\dT`));
    await withServer(async (context, get) => {
      expect((await context.accounts.getKey(key.id)).revoked_at).not.toBeNull();
      expect(await get("/v1/account", secret)).toBe(401);
    });
  });

  it("grants credits and shows the balance with the ledger, newest first", async () => {
    await withDatabase((context) => context.accounts.createAccount({ name: "epsilon", credits: 100 }));
    const granted = (await tagpulse("credits", "grant", "--account", "epsilon", "--amount", "250", "--reason", "top-up")).stdout;
    expect(granted).toMatch(/^granted 250 credits: acct_\S+ {2}epsilon {2}balance 350 credits/);
    const more = await tagpulseJson<{ account: Account; entry: { kind: string; amount: number; balance_after: number; reason: string } }>(
      "credits",
      "grant",
      "--account",
      "epsilon",
      "--amount",
      "5",
    );
    expect(more.account).toMatchObject({ name: "epsilon", balance: 355 });
    expect(more.entry).toMatchObject({ kind: "grant", amount: 5, balance_after: 355, reason: "grant" });

    const lines = (await tagpulse("credits", "balance", "--account", "epsilon")).stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^acct_\S+ {2}epsilon {2}balance 355 credits/);
    expect(lines.slice(1).map((line) => line.replace(/^ {2}\S+ {2}/, "").replace(/\s+/g, " "))).toEqual([
      "grant 5 → 355 grant",
      "grant 250 → 350 top-up",
      "grant 100 → 100 initial credits",
    ]);
  });

  it("refunds one call's charge by its request id, once, and refuses a second refund with exit code 2", async () => {
    await withDatabase(async (context) => {
      await context.accounts.createAccount({ name: "refund-cli", credits: 10 });
      const { secret } = await context.accounts.createKey({ account: "refund-cli" });
      const caller = (await context.billing.authenticate(secret))!;
      const settled = await context.billing.settle({
        caller,
        cost: 2,
        status: 200,
        requestId: "req-cli-refund",
        method: "GET",
        route: "/v1/tiktok/trending/hashtags",
        latencyMs: 1,
      });
      expect(settled.balance).toBe(8);
    });
    const refunded = await tagpulseJson<{ account: Account; entry: { kind: string; amount: number; request_id: string } }>(
      "credits",
      "refund",
      "--request-id",
      "req-cli-refund",
    );
    expect(refunded.account).toMatchObject({ name: "refund-cli", balance: 10 });
    expect(refunded.entry).toMatchObject({ kind: "refund", amount: 2, request_id: "req-cli-refund" });
    const again = await tagpulse("credits", "refund", "--request-id", "req-cli-refund").then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(again?.code).toBe(2);
    expect(again?.stderr).toContain("refunded already");
  });

  it("reports usage as {recent, daily} with --json, of one account or one key, and as a table", async () => {
    const keyIds = await withServer(async (context, get) => {
      const account = await context.accounts.createAccount({ name: "zeta", credits: 10 });
      const one = await context.accounts.createKey({ account: account.id });
      const two = await context.accounts.createKey({ account: account.id, name: "two" });
      await context.accounts.createAccount({ name: "eta" });
      const other = await context.accounts.createKey({ account: "eta" });
      for (const secret of [one.secret, one.secret, two.secret, other.secret]) expect(await get("/v1/account", secret)).toBe(200);
      return [one.key.id, two.key.id];
    });

    type Report = { recent: { key_id: string; route: string; status: number; cost: number }[]; daily: { day: string; calls: number }[] };
    const report = await tagpulseJson<Report>("usage", "--account", "zeta");
    expect(Object.keys(report).sort()).toEqual(["daily", "recent"]);
    expect(report.recent.map((r) => r.key_id)).toEqual([keyIds[1], keyIds[0], keyIds[0]]);
    for (const r of report.recent) expect(r).toMatchObject({ route: "/v1/account", status: 200, cost: 0 });
    expect(report.daily).toEqual([{ day: today(), calls: 3, charged_calls: 0, credits: 0 }]);

    const table = (await tagpulse("usage", "--key", keyIds[1]!)).stdout;
    expect(table).toContain("day         calls  charged  credits");
    expect(table).toMatch(new RegExp(`${today()} +1 +0 +0`));
    expect(table).toContain("recent calls:");
    const calls = table.split("\n").filter((line) => line.includes("GET /v1/account"));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toContain(keyIds[1]);
  });

  it("refuses an unknown account or key and a taken name with exit code 2 and a message naming the problem", async () => {
    await withDatabase((context) => context.accounts.createAccount({ name: "theta", credits: 7 }));
    await expect(tagpulse("credits", "grant", "--account", "nobody", "--amount", "5")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no account "nobody"'),
    });
    await expect(tagpulse("accounts", "create", "theta")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('an account named "theta" exists already'),
    });
    await expect(tagpulse("keys", "revoke", "key_nope")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no API key "key_nope"'),
    });
    expect((await withDatabase((context) => context.accounts.getAccount("theta"))).balance).toBe(7);
  });

  it("refuses credits grant --amount 0 with exit code 2 and a message naming the option", async () => {
    await withDatabase((context) => context.accounts.createAccount({ name: "iota", credits: 7 }));
    await expect(tagpulse("credits", "grant", "--account", "iota", "--amount", "0")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--amount must be an integer >= 1"),
    });
    expect(await withDatabase((context) => context.accounts.ledger({ account: "iota" }))).toHaveLength(1);
  });
});

for (const database of TEST_DATABASES) {
  describe.skipIf(!database.enabled)(`the demo account of a first start on ${database.name}`, () => {
    it("is created on an empty database with 1,000 credits and a key that works", async () => {
      const context = await createTestContext(database.name);
      const { app } = await buildServer(context, { logger: false });
      try {
        const secret = await seedDemoAccount(context);
        expect(secret).toMatch(new RegExp(`^${SECRET.source}$`));
        const accounts = await context.accounts.listAccounts();
        expect(accounts.map((a) => [a.name, a.balance])).toEqual([[DEMO_ACCOUNT, 1000]]);
        const response = await app.inject({ method: "GET", url: "/v1/account", headers: { authorization: `Bearer ${secret}` } });
        expect(response.statusCode).toBe(200);
        expect(response.json().data.account).toMatchObject({ name: "demo", balance: 1000 });
        const ledger = await context.accounts.ledger({ account: "demo" });
        expect(ledger.map((e) => [e.kind, e.amount, e.balance_after])).toEqual([["grant", 1000, 1000]]);
      } finally {
        await app.close();
        await context.dispose();
      }
    });

    it("is not created again: a second call returns undefined and creates nothing", async () => {
      const context = await createTestContext(database.name);
      try {
        expect(await seedDemoAccount(context)).toBeDefined();
        const accounts = await context.accounts.listAccounts();
        const keys = await context.accounts.listKeys();
        expect(await seedDemoAccount(context)).toBeUndefined();
        expect(await context.accounts.listAccounts()).toEqual(accounts);
        expect(await context.accounts.listKeys()).toEqual(keys);
        expect(keys).toHaveLength(1);
        expect((await context.accounts.getAccount("demo")).balance).toBe(1000);
      } finally {
        await context.dispose();
      }
    });

    it("is not created when the database has accounts already", async () => {
      const context = await createTestContext(database.name);
      try {
        await context.accounts.createAccount({ name: "operator", credits: 5 });
        expect(await seedDemoAccount(context)).toBeUndefined();
        expect((await context.accounts.listAccounts()).map((a) => a.name)).toEqual(["operator"]);
        expect(await context.accounts.listKeys()).toEqual([]);
      } finally {
        await context.dispose();
      }
    });
  });
}
