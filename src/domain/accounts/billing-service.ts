import { LRUCache } from "lru-cache";
import type { Database } from "../../db/database.js";
import { hashApiKey, isWellFormedApiKey } from "./api-keys.js";

/** Whose key a call came with: what authentication found, cached for a few seconds. */
export interface Caller {
  readonly keyId: string;
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
  account_id: string;
  rate_limit: number | null;
  revoked_at: number | null;
}

/** The hot path of every paid call: authentication, the balance forecast and the atomic charge. */
export function createBillingService(deps: { database: Database; now?: () => number }): BillingService {
  const { database } = deps;
  const now = deps.now ?? Date.now;
  const keys = new LRUCache<string, Caller>({ max: 10_000, ttl: KEY_TTL_MS });
  const balances = new Map<string, number>();
  const store = database.sqlite ? sqliteStore(database.sqlite) : postgresStore(database);

  // Calls are settled in batches, one transaction each and one at a time: a commit (and its disk
  // write) is paid per batch, not per call, and the calls arriving while a batch commits make up the
  // next one. A second batch in flight would only wait on the first one's account rows.
  let pending: PendingCall[] = [];
  let busy = false;
  const flush = async () => {
    const batch = pending.slice(0, MAX_BATCH);
    pending = pending.slice(batch.length);
    try {
      const settlements = await store.settle(
        batch.map((p) => p.call),
        now(),
      );
      batch.forEach(({ call, resolve }, i) => {
        const settlement = settlements[i]!;
        remember(call.caller.accountId, settlement.balance);
        resolve(settlement);
      });
    } catch (error) {
      // The batch's transaction rolled back: none of its calls was charged or recorded.
      for (const { reject } of batch) reject(error);
    }
    if (pending.length > 0) setImmediate(() => void flush());
    else busy = false;
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
        if (!busy) {
          busy = true;
          setImmediate(() => void flush());
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
  settle(calls: readonly Call[], at: number): Promise<Settlement[]>;
}

interface StoredKey {
  readonly revoked_at: number | null;
  readonly last_used_at: number | null;
}

/** What settling a batch changes: written by the store in the transaction it read the balances in. */
interface SettlementWrites {
  /** Accounts whose balance changed, with the new balance. */
  readonly balances: Map<string, number>;
  readonly charges: { accountId: string; cost: number; balanceAfter: number; reason: string; call: Call }[];
  readonly usage: { call: Call; status: number; cost: number }[];
  /** Keys whose last use is to be noted. */
  readonly touched: Set<string>;
}

/**
 * Settles a batch against the balances and keys read (and, on PostgreSQL, locked) in its
 * transaction, call by call in order: a paid 200 of a key not revoked is charged if the balance left
 * by the calls before covers it. Every call gets a usage record with the status it ends with.
 */
function planSettlement(
  calls: readonly Call[],
  balances: ReadonlyMap<string, number>,
  keys: ReadonlyMap<string, StoredKey>,
  at: number,
): { settlements: Settlement[]; writes: SettlementWrites } {
  const writes: SettlementWrites = { balances: new Map(), charges: [], usage: [], touched: new Set() };
  const settlements = calls.map((call): Settlement => {
    const { caller, cost } = call;
    const key = keys.get(caller.keyId);
    const revoked = key === undefined || key.revoked_at !== null;
    let balance = writes.balances.get(caller.accountId) ?? balances.get(caller.accountId) ?? 0;
    const charged = call.status === 200 && cost > 0 && !revoked && balance >= cost;
    if (charged) {
      balance -= cost;
      writes.balances.set(caller.accountId, balance);
      writes.charges.push({ accountId: caller.accountId, cost, balanceAfter: balance, reason: `${call.method} ${call.route}`, call });
    }
    const settlement = { status: finalStatus(call, revoked, charged), charged: charged ? cost : 0, balance };
    writes.usage.push({ call, status: settlement.status, cost: settlement.charged });
    if (key && !revoked && (key.last_used_at === null || key.last_used_at <= at - LAST_USED_RESOLUTION_MS))
      writes.touched.add(caller.keyId);
    return settlement;
  });
  return { settlements, writes };
}

const distinct = (values: Iterable<string>): string[] => [...new Set(values)].sort();

/**
 * SQLite: one immediate transaction, which takes the write lock before reading the balances, so
 * that processes sharing the file settle one batch after the other.
 */
function sqliteStore(sqlite: NonNullable<Database["sqlite"]>): BillingStore {
  const findKey = sqlite.prepare<[string], KeyRow>("select id, account_id, rate_limit, revoked_at from api_keys where hash = ?");
  const readBalance = sqlite.prepare<[string], { balance: number }>("select balance from accounts where id = ?");
  const readKey = sqlite.prepare<[string], StoredKey>("select revoked_at, last_used_at from api_keys where id = ?");
  const writeBalance = sqlite.prepare("update accounts set balance = ? where id = ?");
  const ledger = sqlite.prepare(
    `insert into credit_ledger (account_id, kind, amount, balance_after, reason, key_id, request_id, created_at)
     values (?, 'charge', ?, ?, ?, ?, ?, ?)`,
  );
  const usage = sqlite.prepare(
    `insert into usage_records (account_id, key_id, request_id, method, route, status, cost, latency_ms, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const touch = sqlite.prepare("update api_keys set last_used_at = ? where id = ?");

  const settle = sqlite.transaction((calls: readonly Call[], at: number) => {
    const balances = new Map<string, number>();
    for (const id of distinct(calls.map((c) => c.caller.accountId))) {
      const row = readBalance.get(id);
      if (row) balances.set(id, row.balance);
    }
    const keys = new Map<string, StoredKey>();
    for (const id of distinct(calls.map((c) => c.caller.keyId))) {
      const row = readKey.get(id);
      if (row) keys.set(id, row);
    }
    const { settlements, writes } = planSettlement(calls, balances, keys, at);
    for (const [id, balance] of writes.balances) writeBalance.run(balance, id);
    for (const { accountId, cost, balanceAfter, reason, call } of writes.charges) {
      ledger.run(accountId, -cost, balanceAfter, reason, call.caller.keyId, call.requestId, at);
    }
    for (const { call, status, cost } of writes.usage) {
      usage.run(call.caller.accountId, call.caller.keyId, call.requestId, call.method, call.route, status, cost, call.latencyMs, at);
    }
    for (const id of writes.touched) touch.run(at, id);
    return settlements;
  });

  return {
    findKey: async (hash) => findKey.get(hash),
    balance: async (accountId) => readBalance.get(accountId)?.balance ?? 0,
    settle: async (calls, at) => settle.immediate(calls, at),
  };
}

/**
 * PostgreSQL: one transaction of three statements. It locks the batch's accounts (in id order, so
 * that concurrent batches, of this process or another, queue on them and never deadlock), reads their
 * balances and keys, and writes everything the batch changed in one statement. A key's row is only
 * written while its account's row is held.
 */
function postgresStore(database: Database): BillingStore {
  const pool = database.pool!;
  return {
    async findKey(hash) {
      const result = await pool.query<KeyRow>("select id, account_id, rate_limit, revoked_at from api_keys where hash = $1", [hash]);
      return result.rows[0];
    },
    async balance(accountId) {
      const result = await pool.query<{ balance: number }>("select balance from accounts where id = $1", [accountId]);
      return Number(result.rows[0]?.balance ?? 0);
    },
    async settle(calls, at) {
      const client = await pool.connect();
      try {
        await client.query("begin");
        // One round trip: the accounts' rows locked and their balances, then the keys.
        const read = await client.query<{ id: string; balance: number | null; revoked_at: number | null; last_used_at: number | null }>({
          name: "tagpulse-settle-read",
          text: `
            with locked as (select id, balance from accounts where id = any($1) order by id for update)
            select id, balance, null::bigint as revoked_at, null::bigint as last_used_at from locked
            union all
            select id, null, revoked_at, last_used_at from api_keys where id = any($2)`,
          values: [distinct(calls.map((c) => c.caller.accountId)), distinct(calls.map((c) => c.caller.keyId))],
        });
        const balances = new Map<string, number>();
        const keys = new Map<string, StoredKey>();
        for (const row of read.rows) {
          if (row.balance === null) keys.set(row.id, row);
          else balances.set(row.id, Number(row.balance));
        }
        const { settlements, writes } = planSettlement(calls, balances, keys, at);
        const { charges, usage } = writes;
        await client.query({
          name: "tagpulse-settle-write",
          text: `
            with balances as (
              update accounts a set balance = v.balance from unnest($1::text[], $2::bigint[]) as v (id, balance) where a.id = v.id),
            ledger as (
              insert into credit_ledger (account_id, kind, amount, balance_after, reason, key_id, request_id, created_at)
              select account_id, 'charge', amount, balance_after, reason, key_id, request_id, $16::bigint
              from unnest($3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[])
                as l (account_id, amount, balance_after, reason, key_id, request_id)),
            usage as (
              insert into usage_records (account_id, key_id, request_id, method, route, status, cost, latency_ms, created_at)
              select account_id, key_id, request_id, method, route, status, cost, latency_ms, $16::bigint
              from unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::integer[], $15::integer[], $17::real[])
                as u (account_id, key_id, request_id, method, route, status, cost, latency_ms)),
            touched as (update api_keys set last_used_at = $16::bigint where id = any($18::text[]))
            select 1`,
          values: [
            [...writes.balances.keys()],
            [...writes.balances.values()],
            charges.map((c) => c.accountId),
            charges.map((c) => -c.cost),
            charges.map((c) => c.balanceAfter),
            charges.map((c) => c.reason),
            charges.map((c) => c.call.caller.keyId),
            charges.map((c) => c.call.requestId),
            usage.map((u) => u.call.caller.accountId),
            usage.map((u) => u.call.caller.keyId),
            usage.map((u) => u.call.requestId),
            usage.map((u) => u.call.method),
            usage.map((u) => u.call.route),
            usage.map((u) => u.status),
            usage.map((u) => u.cost),
            at,
            usage.map((u) => u.call.latencyMs),
            [...writes.touched],
          ],
        });
        await client.query("commit");
        return settlements;
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}
