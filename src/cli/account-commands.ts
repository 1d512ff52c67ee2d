import { InvalidArgumentError, type Command } from "commander";
import type { AppContext } from "../context.js";
import type { Account, ApiKey, UsageReport } from "../domain/accounts/account-service.js";
import { createOutput, formatCount } from "./output.js";

type WithContext = <T>(run: (context: AppContext) => Promise<T>) => Promise<T>;

function integer(name: string, min: number) {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    }
    return Number(value);
  };
}

const describeAccount = (a: Account) => `${a.id}  ${a.name}  balance ${formatCount(a.balance)} credits  created ${a.created_at}`;

function describeKey(k: ApiKey): string {
  const state = k.revoked_at ? `revoked ${k.revoked_at}` : `last used ${k.last_used_at ?? "never"}`;
  const limit = k.rate_limit === null ? "default rate limit" : `${formatCount(k.rate_limit)}/min`;
  return `${k.id}  ${k.prefix}…  ${k.name}  account ${k.account_id}  ${limit}  ${state}`;
}

function describeUsage(report: UsageReport): string[] {
  const lines = ["day         calls  charged  credits"];
  for (const d of report.daily) {
    lines.push(`${d.day}  ${String(d.calls).padStart(6)}  ${String(d.charged_calls).padStart(7)}  ${String(d.credits).padStart(7)}`);
  }
  if (report.daily.length === 0) lines.push("(no calls)");
  if (report.recent.length > 0) lines.push("", "recent calls:");
  for (const r of report.recent) {
    lines.push(`${r.created_at}  ${r.status}  ${r.method} ${r.route}  cost ${r.cost}  ${r.latency_ms} ms  ${r.key_id}  ${r.request_id}`);
  }
  return lines;
}

/** `accounts`, `keys`, `credits` and `usage`: what an operator does to accounts, from the shell. */
export function registerAccountCommands(program: Command, withContext: WithContext): void {
  const accounts = program.command("accounts").description("create and list accounts");
  accounts
    .command("create")
    .description("create an account")
    .argument("<name>", "account name (unique)")
    .option("--credits <n>", "initial credits", integer("--credits", 0), 0)
    .option("--json", "print the account as JSON")
    .action(async (name: string, options: { credits: number; json?: boolean }) => {
      const output = createOutput(options);
      const account = await withContext((c) => c.accounts.createAccount({ name, credits: options.credits }));
      output.info(`created ${describeAccount(account)}`);
      output.result(account);
    });
  accounts
    .command("list")
    .description("list every account")
    .option("--json", "print the accounts as JSON")
    .action(async (options: { json?: boolean }) => {
      const output = createOutput(options);
      const list = await withContext((c) => c.accounts.listAccounts());
      for (const a of list) output.info(describeAccount(a));
      if (list.length === 0) output.info("no accounts yet: tagpulse accounts create NAME --credits N");
      output.result(list);
    });

  const keys = program.command("keys").description("issue, list and revoke API keys");
  keys
    .command("create")
    .description("issue an API key; it is printed once and never stored")
    .requiredOption("--account <account>", "account id or name")
    .option("--name <name>", "what the key is for", "default")
    .option("--rate-limit <n>", "requests per minute for this key (default: the server's)", integer("--rate-limit", 1))
    .option("--json", "print the key and its secret as JSON")
    .action(async (options: { account: string; name: string; rateLimit?: number; json?: boolean }) => {
      const output = createOutput(options);
      const created = await withContext((c) =>
        c.accounts.createKey({ account: options.account, name: options.name, rateLimit: options.rateLimit ?? null }),
      );
      output.info(`issued ${describeKey(created.key)}`);
      output.info(`\n  ${created.secret}\n\nThis is the only time the key is shown: store it now.`);
      output.result(created);
    });
  keys
    .command("list")
    .description("list API keys (never their secrets)")
    .option("--account <account>", "only this account's (id or name)")
    .option("--json", "print the keys as JSON")
    .action(async (options: { account?: string; json?: boolean }) => {
      const output = createOutput(options);
      const list = await withContext((c) => c.accounts.listKeys(options.account === undefined ? {} : { account: options.account }));
      for (const k of list) output.info(describeKey(k));
      if (list.length === 0) output.info("no keys");
      output.result(list);
    });
  keys
    .command("revoke")
    .description("revoke an API key: later calls with it are refused (servers notice within 10 s, and never charge it)")
    .argument("<key-id>", "the key's id, key_…")
    .option("--json", "print the key as JSON")
    .action(async (keyId: string, options: { json?: boolean }) => {
      const output = createOutput(options);
      const key = await withContext((c) => c.accounts.revokeKey(keyId));
      output.info(`revoked ${describeKey(key)}`);
      output.result(key);
    });

  const credits = program.command("credits").description("grant credits and read balances");
  credits
    .command("grant")
    .description("add credits to an account")
    .requiredOption("--account <account>", "account id or name")
    .requiredOption("--amount <n>", "credits to add", integer("--amount", 1))
    .option("--reason <text>", "why, for the ledger", "grant")
    .option("--json", "print the account and the ledger entry as JSON")
    .action(async (options: { account: string; amount: number; reason: string; json?: boolean }) => {
      const output = createOutput(options);
      const granted = await withContext((c) => c.accounts.grant(options));
      output.info(`granted ${formatCount(options.amount)} credits: ${describeAccount(granted.account)}`);
      output.result(granted);
    });
  credits
    .command("refund")
    .description("give back what one call was charged (once), found by its request id")
    .requiredOption("--request-id <id>", "the call's request id (X-Request-Id, or the ledger's)")
    .option("--reason <text>", "why, for the ledger", "refund")
    .option("--json", "print the account and the ledger entry as JSON")
    .action(async (options: { requestId: string; reason: string; json?: boolean }) => {
      const output = createOutput(options);
      const refunded = await withContext((c) => c.accounts.refund(options));
      output.info(`refunded ${formatCount(refunded.entry.amount)} credits: ${describeAccount(refunded.account)}`);
      output.result(refunded);
    });
  credits
    .command("balance")
    .description("an account's balance and its latest ledger entries")
    .requiredOption("--account <account>", "account id or name")
    .option("--limit <n>", "ledger entries to show", integer("--limit", 1), 10)
    .option("--json", "print the account and its ledger as JSON")
    .action(async (options: { account: string; limit: number; json?: boolean }) => {
      const output = createOutput(options);
      const { account, ledger } = await withContext(async (c) => ({
        account: await c.accounts.getAccount(options.account),
        ledger: await c.accounts.ledger({ account: options.account, limit: options.limit }),
      }));
      output.info(describeAccount(account));
      for (const e of ledger) {
        output.info(
          `  ${e.created_at}  ${e.kind.padEnd(6)} ${String(e.amount).padStart(8)}  → ${e.balance_after}  ${e.reason}${e.request_id ? `  ${e.request_id}` : ""}`,
        );
      }
      output.result({ account, ledger });
    });

  program
    .command("usage")
    .description("calls per day and the most recent calls, of every account or of one account or key")
    .option("--account <account>", "account id or name")
    .option("--key <key-id>", "one key, key_…")
    .option("--days <n>", "days of the per-day summary", integer("--days", 1), 30)
    .option("--limit <n>", "recent calls to list", integer("--limit", 1), 20)
    .option("--json", "print the report as JSON")
    .action(async (options: { account?: string; key?: string; days: number; limit: number; json?: boolean }) => {
      const output = createOutput(options);
      const report = await withContext((c) =>
        c.accounts.usage({
          days: options.days,
          limit: options.limit,
          ...(options.account === undefined ? {} : { account: options.account }),
          ...(options.key === undefined ? {} : { keyId: options.key }),
        }),
      );
      for (const line of describeUsage(report)) output.info(line);
      output.result(report);
    });
}
