import { sql, type Kysely } from "kysely";
import type { Dialect } from "../database.js";

/**
 * PostgreSQL: the settlement of a batch of calls as one function, so that a batch costs one round
 * trip. In order, for each call: charge it if it is a paid 200 of a key not revoked and the balance
 * covers the cost (one conditional update, and its ledger row), record its usage with the status it
 * ends with, and note the key's last use at most once per `resolution` ms. Returns, per call (`n` from
 * 1), whether it was charged, whether its key was revoked, and the balance after it. SQLite runs the
 * same steps as prepared statements in the billing service.
 */
export function settleFunctionMigration(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect !== "postgres") return;
      await sql`
        create function tagpulse_settle(
          key_ids text[], account_ids text[], costs bigint[], paid boolean[], reasons text[], request_ids text[],
          methods text[], routes text[], statuses integer[], latencies real[], at bigint, resolution bigint)
        returns table (n integer, charged boolean, revoked boolean, balance bigint)
        language plpgsql as $$
        #variable_conflict use_column
        declare
          key_revoked boolean;
          key_last_used bigint;
          after bigint;
          did_charge boolean;
        begin
          for i in 1 .. coalesce(array_length(key_ids, 1), 0) loop
            select k.revoked_at is not null, k.last_used_at into key_revoked, key_last_used from api_keys k where k.id = key_ids[i];
            key_revoked := coalesce(key_revoked, true);
            did_charge := false;
            after := null;
            if paid[i] and not key_revoked then
              update accounts a set balance = a.balance - costs[i]
                where a.id = account_ids[i] and a.balance >= costs[i]
                returning a.balance into after;
              if found then
                did_charge := true;
                insert into credit_ledger (account_id, kind, amount, balance_after, reason, key_id, request_id, created_at)
                  values (account_ids[i], 'charge', -costs[i], after, reasons[i], key_ids[i], request_ids[i], at);
              end if;
            end if;
            if after is null then
              select a.balance into after from accounts a where a.id = account_ids[i];
            end if;
            insert into usage_records (account_id, key_id, request_id, method, route, status, cost, latency_ms, created_at)
              values (account_ids[i], key_ids[i], request_ids[i], methods[i], routes[i],
                case when key_revoked and statuses[i] < 400 then 401 when paid[i] and not did_charge then 402 else statuses[i] end,
                case when did_charge then costs[i] else 0 end, latencies[i], at);
            if not key_revoked and (key_last_used is null or key_last_used <= at - resolution) then
              update api_keys k set last_used_at = at where k.id = key_ids[i];
            end if;
            n := i;
            charged := did_charge;
            revoked := key_revoked;
            balance := coalesce(after, 0);
            return next;
          end loop;
        end
        $$`.execute(db);
    },
  };
}
