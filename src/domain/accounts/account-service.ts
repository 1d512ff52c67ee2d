import { sql, type Selectable } from "kysely";
import type { Database } from "../../db/database.js";
import type { AccountsTable, ApiKeysTable, CreditLedgerTable, UsageRecordsTable } from "../../db/schema.js";
import { TagpulseError } from "../../lib/errors.js";
import { issueApiKey, newId } from "./api-keys.js";

/** A balance or grant can be at most this many credits: integers stay exact well below 2^53. */
export const MAX_CREDITS = 1_000_000_000_000;

/** A per-key rate limit override, in requests per minute, is at most this. */
export const MAX_RATE_LIMIT = 100_000_000;

export interface Account {
  readonly id: string;
  readonly name: string;
  readonly balance: number;
  readonly created_at: string;
}

export interface ApiKey {
  readonly id: string;
  readonly account_id: string;
  readonly name: string;
  /** The first characters of the key, to recognise it by. */
  readonly prefix: string;
  /** Requests per minute for this key; null means the server's default. */
  readonly rate_limit: number | null;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly revoked_at: string | null;
}

export interface LedgerEntry {
  readonly id: number;
  readonly account_id: string;
  readonly kind: "grant" | "charge" | "refund";
  readonly amount: number;
  readonly balance_after: number;
  readonly reason: string;
  readonly key_id: string | null;
  readonly request_id: string | null;
  readonly created_at: string;
}

export interface UsageRecord {
  readonly request_id: string;
  readonly key_id: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly cost: number;
  readonly latency_ms: number;
  readonly created_at: string;
}

export interface DailyUsage {
  /** YYYY-MM-DD, UTC. */
  readonly day: string;
  readonly calls: number;
  readonly charged_calls: number;
  readonly credits: number;
}

export interface UsageReport {
  readonly recent: UsageRecord[];
  readonly daily: DailyUsage[];
}

export interface UsageQuery {
  /** An account id or name; every account when absent. */
  readonly account?: string;
  readonly keyId?: string;
  /** Recent calls to list, newest first. */
  readonly limit?: number;
  /** Days of the per-day summary, ending today. */
  readonly days?: number;
}

export interface AccountService {
  createAccount(input: { name: string; credits?: number }): Promise<Account>;
  listAccounts(): Promise<Account[]>;
  /** An account by id (`acct_…`) or by name. */
  getAccount(ref: string): Promise<Account>;
  /** Issues a key: the secret is in the result and nowhere else, ever. */
  createKey(input: { account: string; name?: string; rateLimit?: number | null }): Promise<{ key: ApiKey; secret: string }>;
  listKeys(input?: { account?: string }): Promise<ApiKey[]>;
  getKey(keyId: string): Promise<ApiKey>;
  revokeKey(keyId: string): Promise<ApiKey>;
  grant(input: { account: string; amount: number; reason?: string; requestId?: string }): Promise<{ account: Account; entry: LedgerEntry }>;
  /** Gives back what one call was charged, once: the ledger gets a refund entry naming the call's request id. */
  refund(input: { requestId: string; reason?: string }): Promise<{ account: Account; entry: LedgerEntry }>;
  ledger(input: { account: string; limit?: number }): Promise<LedgerEntry[]>;
  usage(query: UsageQuery): Promise<UsageReport>;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

// Integer columns arrive as numbers from both databases (PostgreSQL's bigint through the pool's parser).
function toAccount(row: Selectable<AccountsTable>): Account {
  return { ...row, created_at: iso(row.created_at) };
}

/** Field by field: a key's hash never leaves the database. */
function toKey(row: Selectable<ApiKeysTable>): ApiKey {
  return {
    id: row.id,
    account_id: row.account_id,
    name: row.name,
    prefix: row.prefix,
    rate_limit: row.rate_limit,
    created_at: iso(row.created_at),
    last_used_at: isoOrNull(row.last_used_at),
    revoked_at: isoOrNull(row.revoked_at),
  };
}

function toEntry(row: Selectable<CreditLedgerTable>): LedgerEntry {
  return { ...row, created_at: iso(row.created_at) };
}

function toUsage(row: Selectable<UsageRecordsTable>): UsageRecord {
  return {
    request_id: row.request_id,
    key_id: row.key_id,
    method: row.method,
    route: row.route,
    status: row.status,
    cost: row.cost,
    latency_ms: Math.round(row.latency_ms * 100) / 100,
    created_at: iso(row.created_at),
  };
}

function checkName(what: string, param: string, name: string): string {
  const trimmed = name.trim();
  if (trimmed === "" || trimmed.length > 100 || /[\p{Cc}]/u.test(trimmed)) {
    throw new TagpulseError("invalid_parameter", `${what} must be 1 to 100 printable characters`, { param });
  }
  return trimmed;
}

function checkCredits(param: string, amount: number, min: number): number {
  if (!Number.isSafeInteger(amount) || amount < min || amount > MAX_CREDITS) {
    throw new TagpulseError("invalid_parameter", `${param} must be an integer from ${min} to ${MAX_CREDITS}`, { param });
  }
  return amount;
}

function checkCount(param: string, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new TagpulseError("invalid_parameter", `${param} must be an integer from 1 to ${max}`, { param });
  }
  return value;
}

/**
 * Accounts, their API keys, credit grants and the records of what was used: what operators do
 * through the CLI and the admin API, and what callers read about themselves. The charge of a call
 * is the billing service's.
 */
export function createAccountService(deps: { database: Database; now?: () => number }): AccountService {
  const { db } = deps.database;
  const now = deps.now ?? Date.now;

  async function findAccount(ref: string): Promise<Selectable<AccountsTable>> {
    const row = await db
      .selectFrom("accounts")
      .selectAll()
      .where(ref.startsWith("acct_") ? "id" : "name", "=", ref)
      .executeTakeFirst();
    if (!row) throw new TagpulseError("not_found", `no account ${JSON.stringify(ref)}`, { param: "account" });
    return row;
  }

  return {
    async createAccount(input) {
      const name = checkName("an account name", "name", input.name);
      if (name.startsWith("acct_"))
        throw new TagpulseError("invalid_parameter", "an account name may not start with acct_", { param: "name" });
      const credits = checkCredits("credits", input.credits ?? 0, 0);
      const id = newId("acct");
      const createdAt = now();
      return db.transaction().execute(async (trx) => {
        const taken = await trx.selectFrom("accounts").select("id").where("name", "=", name).executeTakeFirst();
        if (taken) throw new TagpulseError("conflict", `an account named ${JSON.stringify(name)} exists already`, { param: "name" });
        await trx.insertInto("accounts").values({ id, name, balance: credits, created_at: createdAt }).execute();
        if (credits > 0) {
          await trx
            .insertInto("credit_ledger")
            .values({
              account_id: id,
              kind: "grant",
              amount: credits,
              balance_after: credits,
              reason: "initial credits",
              key_id: null,
              request_id: null,
              created_at: createdAt,
            })
            .execute();
        }
        return { id, name, balance: credits, created_at: iso(createdAt) };
      });
    },

    async listAccounts() {
      const rows = await db.selectFrom("accounts").selectAll().orderBy("created_at").orderBy("id").execute();
      return rows.map(toAccount);
    },

    async getAccount(ref) {
      return toAccount(await findAccount(ref));
    },

    async createKey(input) {
      const account = await findAccount(input.account);
      const name = checkName("a key name", "name", input.name ?? "default");
      const rateLimit = input.rateLimit == null ? null : checkCount("rate_limit", input.rateLimit, MAX_RATE_LIMIT);
      const { secret, hash, prefix } = issueApiKey();
      const row = {
        id: newId("key"),
        account_id: account.id,
        name,
        prefix,
        hash,
        rate_limit: rateLimit,
        created_at: now(),
        last_used_at: null,
        revoked_at: null,
      };
      await db.insertInto("api_keys").values(row).execute();
      return { key: toKey(row), secret };
    },

    async listKeys(input = {}) {
      let query = db.selectFrom("api_keys").selectAll().orderBy("created_at").orderBy("id");
      if (input.account !== undefined) query = query.where("account_id", "=", (await findAccount(input.account)).id);
      return (await query.execute()).map(toKey);
    },

    async getKey(keyId) {
      const row = await db.selectFrom("api_keys").selectAll().where("id", "=", keyId).executeTakeFirst();
      if (!row) throw new TagpulseError("not_found", `no API key ${JSON.stringify(keyId)}`, { param: "key" });
      return toKey(row);
    },

    async revokeKey(keyId) {
      // Revoking twice keeps the first time.
      await db.updateTable("api_keys").set({ revoked_at: now() }).where("id", "=", keyId).where("revoked_at", "is", null).execute();
      const row = await db.selectFrom("api_keys").selectAll().where("id", "=", keyId).executeTakeFirst();
      if (!row) throw new TagpulseError("not_found", `no API key ${JSON.stringify(keyId)}`, { param: "key" });
      return toKey(row);
    },

    async grant(input) {
      const amount = checkCredits("amount", input.amount, 1);
      const reason = checkName("a reason", "reason", input.reason ?? "grant");
      const account = await findAccount(input.account);
      return db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable("accounts")
          .set({ balance: sql`balance + ${amount}` })
          .where("id", "=", account.id)
          .where("balance", "<=", MAX_CREDITS - amount)
          .returningAll()
          .executeTakeFirst();
        if (!updated)
          throw new TagpulseError("invalid_parameter", `the balance may not exceed ${MAX_CREDITS} credits`, { param: "amount" });
        const entry = await trx
          .insertInto("credit_ledger")
          .values({
            account_id: account.id,
            kind: "grant",
            amount,
            balance_after: updated.balance,
            reason,
            key_id: null,
            request_id: input.requestId ?? null,
            created_at: now(),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return { account: toAccount(updated), entry: toEntry(entry) };
      });
    },

    async refund(input) {
      const reason = checkName("a reason", "reason", input.reason ?? "refund");
      const refunded = () =>
        new TagpulseError("conflict", `the charge of request ${JSON.stringify(input.requestId)} was refunded already`, {
          param: "request_id",
        });
      return db
        .transaction()
        .execute(async (trx) => {
          const entries = await trx.selectFrom("credit_ledger").selectAll().where("request_id", "=", input.requestId).execute();
          const charge = entries.find((e) => e.kind === "charge");
          if (!charge)
            throw new TagpulseError("not_found", `no charge for request ${JSON.stringify(input.requestId)}`, { param: "request_id" });
          if (entries.some((e) => e.kind === "refund")) throw refunded();
          const amount = -charge.amount;
          const updated = await trx
            .updateTable("accounts")
            .set({ balance: sql`balance + ${amount}` })
            .where("id", "=", charge.account_id)
            .returningAll()
            .executeTakeFirstOrThrow();
          const entry = await trx
            .insertInto("credit_ledger")
            .values({
              account_id: charge.account_id,
              kind: "refund",
              amount,
              balance_after: updated.balance,
              reason,
              key_id: charge.key_id,
              request_id: input.requestId,
              created_at: now(),
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          return { account: toAccount(updated), entry: toEntry(entry) };
        })
        .catch((error: unknown) => {
          // Another refund of the same call committed first: the unique index refused this one.
          const code = (error as { code?: unknown } | null)?.code;
          if (code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE") throw refunded();
          throw error;
        });
    },

    async ledger(input) {
      const account = await findAccount(input.account);
      const limit = checkCount("limit", input.limit ?? 100, 10_000);
      const rows = await db
        .selectFrom("credit_ledger")
        .selectAll()
        .where("account_id", "=", account.id)
        .orderBy("id", "desc")
        .limit(limit)
        .execute();
      return rows.map(toEntry);
    },

    async usage(query) {
      const limit = checkCount("limit", query.limit ?? 50, 1000);
      const days = checkCount("days", query.days ?? 30, 366);
      const accountId = query.account === undefined ? undefined : (await findAccount(query.account)).id;
      const today = Math.floor(now() / 86_400_000);
      const since = (today - days + 1) * 86_400_000;
      let recent = db.selectFrom("usage_records").selectAll().orderBy("id", "desc").limit(limit);
      let daily = db
        .selectFrom("usage_records")
        .select((eb) => [
          sql<number>`created_at / 86400000`.as("day"),
          eb.fn.countAll<number>().as("calls"),
          sql<number>`sum(case when cost > 0 then 1 else 0 end)`.as("charged_calls"),
          sql<number>`sum(cost)`.as("credits"),
        ])
        .where("created_at", ">=", since)
        .groupBy(sql`created_at / 86400000`)
        .orderBy(sql`created_at / 86400000`);
      if (accountId !== undefined) {
        recent = recent.where("account_id", "=", accountId);
        daily = daily.where("account_id", "=", accountId);
      }
      if (query.keyId !== undefined) {
        recent = recent.where("key_id", "=", query.keyId);
        daily = daily.where("key_id", "=", query.keyId);
      }
      const [recentRows, dailyRows] = await Promise.all([recent.execute(), daily.execute()]);
      return {
        recent: recentRows.map(toUsage),
        daily: dailyRows.map((r) => ({
          day: iso(Number(r.day) * 86_400_000).slice(0, 10),
          calls: Number(r.calls),
          charged_calls: Number(r.charged_calls),
          credits: Number(r.credits),
        })),
      };
    },
  };
}
