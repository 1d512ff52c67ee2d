import { randomBytes } from "node:crypto";
import type { AppContext } from "../src/context.js";

/** A new account with `credits` and a key of its own: the Authorization header, the account and key ids. */
export async function newCaller(
  context: AppContext,
  options: { credits?: number; rateLimit?: number | null } = {},
): Promise<{ headers: { authorization: string }; accountId: string; keyId: string; secret: string }> {
  const account = await context.accounts.createAccount({
    name: `caller-${randomBytes(4).toString("hex")}`,
    credits: options.credits ?? 1_000_000,
  });
  const { key, secret } = await context.accounts.createKey({
    account: account.id,
    rateLimit: options.rateLimit === undefined ? 1_000_000 : options.rateLimit,
  });
  return { headers: { authorization: `Bearer ${secret}` }, accountId: account.id, keyId: key.id, secret };
}
