import { sql, type Kysely } from "kysely";

/** A call's charge is refunded at most once, even by two operators at the same moment. */
export const refundOnceMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex("credit_ledger_refund_once")
      .unique()
      .on("credit_ledger")
      .column("request_id")
      .where(sql.ref("kind"), "=", sql.lit("refund"))
      .execute();
  },
};
