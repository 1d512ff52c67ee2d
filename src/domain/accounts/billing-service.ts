import { LRUCache } from "lru-cache";
import type { Database } from "../../db/database.js";
import { hashApiKey, isWellFormedApiKey } from "./api-keys.js";

/** Whose key a call came with: what authentication found, cached for a few seconds. */
export interface Caller {
  readonly keyId: string;
  readonly keyName: string;
  readonly prefix: string;
  readonly accountId: string;
  /** Requests per minute for this key, or null for the server's default. */
  readonly rateLimit: number | null;
  readonly revoked: boolean;
}

/** One answered call of an authenticated caller. */
export interface Call {
  readonly caller: Caller;
  /** What the call costs if its answer is a 200; 0 for free routes. */
  readonly cost: number;
  /** The status the call would be answered with. */
  readonly status: number;
  readonly requestId: string;
  readonly method: string;
  readonly route: string;
  readonly latencyMs: number;
}

/** What settling a call decided. */
export interface Settlement {
  /**
   * The status to answer with: the call's own, or 402 when its charge found the balance short, or
   * 401 when the key was revoked after it was authenticated.
   */
  readonly status: number;
  /** Credits taken: the cost, or 0. */
  readonly charged: number;
  /** The balance after the call. */
  readonly balance: number;
}

export interface BillingService {
  /** The caller of a key authenticated in the last few seconds, without a lookup. */
  cached(secret: string): Caller | undefined;
  /** The caller of a key, revoked or not; undefined for a malformed or unknown key. */
  authenticate(secret: string): Promise<Caller | undefined>;
  /**
   * The account's balance as far as paying `cost` goes: the one this process last saw, read again
   * when that looks short (another process may have granted credits). Enough is only a forecast:
   * the charge decides.
   */
  forecast(accountId: string, cost: number): Promise<number>;
  /**
   * Charges a 200 of a paid route, atomically: the balance only goes down if it covers the cost,
   * with a ledger row in the same transaction. Records the call's usage in that transaction too,
   * charged or not, so that when a caller has an answer its record exists.
   */
  settle(call: Call): Promise<Settlement>;
  /** Drops what is cached of a key (after revoking it, say) or of every key. */
  forget(keyId?: string): void;
}

/** How long an authenticated key is trusted without reading it again. The charge re-checks revocation. */
const KEY_TTL_MS = 10_000;

/** A key's last use is written at most this often: each write would otherwise contend on the key's row. */
const LAST_USED_RESOLUTION_MS = 60_000;

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  account_id: string;
  rate_limit: number | null;
  revoked_at: number | null;
}

interface SettleRow {
  charged: boolean | number;
  revoked: boolean | number;
  balance: number;
}

/** The hot path of every paid call: authentication, the balance forecast and the atomic charge. */
export function createBillingService(deps: { database: Database; now?: () => number }): BillingService {
  const { database } = deps;
  const now = deps.now ?? Date.now;
  const keys = new LRUCache<string, Caller>({ max: 10_000, ttl: KEY_TTL_MS });
  const balances = new Map<string, number>();
  const store = database.sqlite ? sqliteStore(database.sqlite) : postgresStore(database);

  const remember = (accountId: string, balance: number) => {
    if (balances.size >= 100_000 && !balances.has(accountId)) balances.clear();
    balances.set(accountId, balance);
  };

  return {
    cached(secret) {
      return isWellFormedApiKey(secret) ? keys.get(hashApiKey(secret)) : undefined;
    },

    async authenticate(secret) {
      if (!isWellFormedApiKey(secret)) return undefined;
      const hash = hashApiKey(secret);
      const cached = keys.get(hash);
      if (cached) return cached;
      const row = await store.findKey(hash);
      if (!row) return undefined;
      const caller: Caller = {
        keyId: row.id,
        keyName: row.name,
        prefix: row.prefix,
        accountId: row.account_id,
        rateLimit: row.rate_limit,
        revoked: row.revoked_at !== null,
      };
      keys.set(hash, caller);
      return caller;
    },

    async forecast(accountId, cost) {
      const known = balances.get(accountId);
      if (known !== undefined && known >= cost) return known;
      const balance = await store.balance(accountId);
      remember(accountId, balance);
      return balance;
    },

    async settle(call) {
      const at = now();
      const row = await store.settle(call, at);
      const charged = Boolean(row.charged);
      const revoked = Boolean(row.revoked);
      const balance = Number(row.balance);
      remember(call.caller.accountId, balance);
      return { status: finalStatus(call, revoked, charged), charged: charged ? call.cost : 0, balance };
    },

    forget(keyId) {
      if (keyId === undefined) keys.clear();
      else for (const [hash, caller] of keys.entries()) if (caller.keyId === keyId) keys.delete(hash);
    },
  };
}

/**
 * The status a call ends with: a success with a key revoked meanwhile is refused, an unpaid 200 of a
 * paid route is a 402; anything else keeps its status.
 */
function finalStatus(call: Call, revoked: boolean, charged: boolean): number {
  if (revoked && call.status < 400) return 401;
  if (call.status === 200 && call.cost > 0 && !charged) return 402;
  return call.status;
}

interface BillingStore {
  findKey(hash: string): Promise<KeyRow | undefined>;
  balance(accountId: string): Promise<number>;
  settle(call: Call, at: number): Promise<SettleRow>;
}

/**
 * SQLite: synchronous prepared statements in one immediate transaction, which takes the write lock
 * first, so that processes sharing the file charge one after the other.
 */
function sqliteStore(sqlite: NonNullable<Database["sqlite"]>): BillingStore {
  const findKey = sqlite.prepare<[string], KeyRow>(
    "select id, name, prefix, account_id, rate_limit, revoked_at from api_keys where hash = ?",
  );
  const readBalance = sqlite.prepare<[string], { balance: number }>("select balance from accounts where id = ?");
  const readKey = sqlite.prepare<[string], { revoked_at: number | null; last_used_at: number | null }>(
    "select revoked_at, last_used_at from api_keys where id = ?",
  );
  const charge = sqlite.prepare<[number, string, number], { balance: number }>(
    "update accounts set balance = balance - ? where id = ? and balance >= ? returning balance",
  );
  const ledger = sqlite.prepare(
    `insert into credit_ledger (account_id, kind, amount, balance_after, reason, key_id, request_id, created_at)
     values (?, 'charge', ?, ?, ?, ?, ?, ?)`,
  );
  const usage = sqlite.prepare(
    `insert into usage_records (account_id, key_id, request_id, method, route, status, cost, latency_ms, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const touch = sqlite.prepare("update api_keys set last_used_at = ? where id = ?");

  const settle = sqlite.transaction((call: Call, at: number): SettleRow => {
    const { caller, cost } = call;
    const key = readKey.get(caller.keyId);
    const revoked = key === undefined || key.revoked_at !== null;
    let balance: number | undefined;
    let charged = false;
    if (call.status === 200 && cost > 0 && !revoked) {
      const row = charge.get(cost, caller.accountId, cost);
      if (row) {
        charged = true;
        balance = row.balance;
        ledger.run(caller.accountId, -cost, balance, `${call.method} ${call.route}`, caller.keyId, call.requestId, at);
      }
    }
    balance ??= readBalance.get(caller.accountId)?.balance ?? 0;
    const status = finalStatus(call, revoked, charged);
    usage.run(caller.accountId, caller.keyId, call.requestId, call.method, call.route, status, charged ? cost : 0, call.latencyMs, at);
    if (key && (key.last_used_at === null || key.last_used_at <= at - LAST_USED_RESOLUTION_MS)) touch.run(at, caller.keyId);
    return { charged, revoked, balance };
  });

  return {
    findKey: async (hash) => findKey.get(hash),
    balance: async (accountId) => readBalance.get(accountId)?.balance ?? 0,
    settle: async (call, at) => settle.immediate(call, at),
  };
}

/**
 * PostgreSQL: one statement, so one round trip and its own transaction. The conditional update is
 * the charge: concurrent ones on an account queue on its row, and each sees the balance the one
 * before it left.
 */
function postgresStore(database: Database): BillingStore {
  const pool = database.pool!;
  const SETTLE = `
    with key as (select revoked_at is not null as revoked from api_keys where id = $1),
    charged as (
      update accounts set balance = balance - $3
      where id = $2 and $4::boolean and balance >= $3 and exists (select 1 from key where not revoked)
      returning balance),
    ledger as (
      insert into credit_ledger (account_id, kind, amount, balance_after, reason, key_id, request_id, created_at)
      select $2, 'charge', -$3::bigint, balance, $5, $1, $6, $7 from charged),
    outcome as (
      select exists (select 1 from charged) as charged, coalesce((select revoked from key), true) as revoked),
    usage as (
      insert into usage_records (account_id, key_id, request_id, method, route, status, cost, latency_ms, created_at)
      select $2, $1, $6, $8, $9,
        case when o.revoked and $10 < 400 then 401 when $4::boolean and not o.charged then 402 else $10 end,
        case when o.charged then $3 else 0 end, $11, $7
      from outcome o),
    touched as (
      update api_keys set last_used_at = $7
      where id = $1 and (last_used_at is null or last_used_at <= $7::bigint - ${LAST_USED_RESOLUTION_MS}))
    select o.charged, o.revoked,
      coalesce((select balance from charged), (select balance from accounts where id = $2), 0) as balance
    from outcome o`;

  return {
    async findKey(hash) {
      const result = await pool.query<KeyRow>("select id, name, prefix, account_id, rate_limit, revoked_at from api_keys where hash = $1", [
        hash,
      ]);
      return result.rows[0];
    },
    async balance(accountId) {
      const result = await pool.query<{ balance: number }>("select balance from accounts where id = $1", [accountId]);
      return Number(result.rows[0]?.balance ?? 0);
    },
    async settle(call, at) {
      const { caller } = call;
      const result = await pool.query<SettleRow>({
        name: "tagpulse-settle",
        text: SETTLE,
        values: [
          caller.keyId,
          caller.accountId,
          call.cost,
          call.status === 200 && call.cost > 0,
          `${call.method} ${call.route}`,
          call.requestId,
          at,
          call.method,
          call.route,
          call.status,
          call.latencyMs,
        ],
      });
      return result.rows[0]!;
    },
  };
}
