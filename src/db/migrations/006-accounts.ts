import { sql, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * Accounts with a prepaid credit balance, their API keys (only a SHA-256 hash and a display prefix),
 * the append-only credit ledger and one usage record per authenticated call. Times are Unix
 * milliseconds. A balance can never go below zero: the check makes an over-charge fail, not succeed.
 */
export function accountsMigration(dialect: Dialect) {
  const bigint = dialect === "postgres" ? "bigint" : "integer";
  const serial = dialect === "postgres" ? "bigserial" : "integer";

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("accounts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull().unique())
        .addColumn("balance", bigint, (c) => c.notNull().check(sql`balance >= 0`))
        .addColumn("created_at", bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("api_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("prefix", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull().unique())
        .addColumn("rate_limit", "integer")
        .addColumn("created_at", bigint, (c) => c.notNull())
        .addColumn("last_used_at", bigint)
        .addColumn("revoked_at", bigint)
        .execute();
      await db.schema.createIndex("api_keys_account").on("api_keys").column("account_id").execute();

      await db.schema
        .createTable("credit_ledger")
        .addColumn("id", serial, (c) => c.primaryKey())
        .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
        .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('grant', 'charge', 'refund')`))
        .addColumn("amount", bigint, (c) => c.notNull())
        .addColumn("balance_after", bigint, (c) => c.notNull().check(sql`balance_after >= 0`))
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("key_id", "text")
        .addColumn("request_id", "text")
        .addColumn("created_at", bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex("credit_ledger_account").on("credit_ledger").columns(["account_id", "id"]).execute();

      await db.schema
        .createTable("usage_records")
        .addColumn("id", serial, (c) => c.primaryKey())
        .addColumn("account_id", "text", (c) => c.notNull())
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("request_id", "text", (c) => c.notNull())
        .addColumn("method", "text", (c) => c.notNull())
        .addColumn("route", "text", (c) => c.notNull())
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("cost", "integer", (c) => c.notNull())
        .addColumn("latency_ms", "real", (c) => c.notNull())
        .addColumn("created_at", bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex("usage_records_account").on("usage_records").columns(["account_id", "created_at"]).execute();
      await db.schema.createIndex("usage_records_key").on("usage_records").columns(["key_id", "created_at"]).execute();
    },
  };
}
