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

/** Calls settled in one transaction at most. */
const MAX_BATCH = 256;

interface PendingCall {
  readonly call: Call;
  resolve(settlement: Settlement): void;
  reject(error: unknown): void;
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

  // Calls are settled in batches, one transaction each: a commit (and its disk write) is paid per
  // batch, not per call. A batch takes whatever calls arrived while the one before was committing.
  let pending: PendingCall[] = [];
  let flushScheduled = false;
  let inFlight = 0;
  const flush = () => {
    flushScheduled = false;
    while (pending.length > 0 && inFlight < store.concurrency) {
      const batch = pending.slice(0, MAX_BATCH);
      pending = pending.slice(batch.length);
      inFlight++;
      void settleBatch(batch).finally(() => {
        inFlight--;
        if (pending.length > 0 && !flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      });
    }
  };
  const settleBatch = async (batch: PendingCall[]) => {
    try {
      const rows = await store.settle(
        batch.map((p) => p.call),
        now(),
      );
      batch.forEach(({ call, resolve }, i) => {
        const row = rows[i]!;
        const charged = Boolean(row.charged);
        const balance = Number(row.balance);
        remember(call.caller.accountId, balance);
        resolve({ status: finalStatus(call, Boolean(row.revoked), charged), charged: charged ? call.cost : 0, balance });
      });
    } catch (error) {
      // The batch's transaction rolled back: none of its calls was charged or recorded.
      for (const { reject } of batch) reject(error);
    }
  };

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

    settle(call) {
      return new Promise<Settlement>((resolve, reject) => {
        pending.push({ call, resolve, reject });
        if (!flushScheduled && inFlight < store.concurrency) {
          flushScheduled = true;
          setImmediate(flush);
        }
      });
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
  /** Settles calls in order, in one transaction: a call sees the balance the calls before it left. */
  settle(calls: readonly Call[], at: number): Promise<SettleRow[]>;
  /** Batches committed at the same time at most. */
  readonly concurrency: number;
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

  const settleOne = (call: Call, at: number): SettleRow => {
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
  };
  const settle = sqlite.transaction((calls: readonly Call[], at: number) => calls.map((call) => settleOne(call, at)));

  return {
    findKey: async (hash) => findKey.get(hash),
    balance: async (accountId) => readBalance.get(accountId)?.balance ?? 0,
    settle: async (calls, at) => settle.immediate(calls, at),
    // Synchronous: one batch at a time.
    concurrency: 1,
  };
}

/**
 * PostgreSQL: a batch is one call of the tagpulse_settle function (migration 007), so one round trip
 * and one transaction. Its conditional updates are the charges: concurrent batches on an account queue
 * on its row, and each sees the balance the one before it left. Calls go in (account, key) order, so
 * that batches take their row locks in one order and never deadlock.
 */
function postgresStore(database: Database): BillingStore {
  const pool = database.pool!;
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
    async settle(calls, at) {
      const order = calls.map((_, i) => i);
      const byLockOrder = (i: number, j: number) => {
        const a = calls[i]!.caller;
        const b = calls[j]!.caller;
        return a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : i - j;
      };
      order.sort(byLockOrder);
      const column = <T>(pick: (call: Call) => T) => order.map((i) => pick(calls[i]!));
      const query = () =>
        pool.query<SettleRow & { n: number }>({
          name: "tagpulse-settle",
          text: "select n, charged, revoked, balance from tagpulse_settle($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
          values: [
            column((c) => c.caller.keyId),
            column((c) => c.caller.accountId),
            column((c) => c.cost),
            column((c) => c.status === 200 && c.cost > 0),
            column((c) => `${c.method} ${c.route}`),
            column((c) => c.requestId),
            column((c) => c.method),
            column((c) => c.route),
            column((c) => c.status),
            column((c) => c.latencyMs),
            at,
            LAST_USED_RESOLUTION_MS,
          ],
        });
      let result;
      for (let attempt = 1; result === undefined; attempt++) {
        try {
          result = await query();
        } catch (error) {
          // A deadlock with an operator's statement rolled the batch back whole: it is tried again.
          const code = (error as { code?: unknown } | null)?.code;
          if (attempt >= 3 || (code !== "40P01" && code !== "40001")) throw error;
        }
      }
      const rows: SettleRow[] = new Array(calls.length);
      for (const row of result.rows) rows[order[row.n - 1]!] = row;
      return rows;
    },
    concurrency: 2,
  };
}
