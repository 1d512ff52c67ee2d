import { createHash, randomBytes } from "node:crypto";
import bs58 from "bs58";

/** What every API key starts with; the rest is random, in base58. */
export const KEY_PREFIX = "tp_live_";

/** 160 random bits: more than the 128 a key needs, so that guessing one stays out of reach. */
const KEY_RANDOM_BYTES = 20;

/** A key as issued: `tp_live_` and base58 characters (no 0, O, I or l), of any length a key was issued with. */
const WELL_FORMED_KEY = /^tp_live_[1-9A-HJ-NP-Za-km-z]{22,64}$/;

/** Characters of the secret kept in the clear, so that an operator can recognise a key. */
const DISPLAY_CHARS = KEY_PREFIX.length + 4;

export interface IssuedKey {
  /** The key itself: shown once, never stored. */
  readonly secret: string;
  readonly hash: string;
  readonly prefix: string;
}

/**
 * A new random API key with what is stored of it.
 *
 * @example
 * const { secret, hash, prefix } = issueApiKey(); // secret: "tp_live_3yQ…", prefix: "tp_live_3yQx"
 */
export function issueApiKey(): IssuedKey {
  const secret = KEY_PREFIX + bs58.encode(randomBytes(KEY_RANDOM_BYTES));
  return { secret, hash: hashApiKey(secret), prefix: secret.slice(0, DISPLAY_CHARS) };
}

export function isWellFormedApiKey(text: string): boolean {
  return WELL_FORMED_KEY.test(text);
}

/** The SHA-256 of a key, in hex: what the database stores and looks keys up by. */
export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** A random identifier with a type prefix, e.g. `acct_5HueCGU8rMjxEXxiPuD5BD`. */
export function newId(type: "acct" | "key"): string {
  return `${type}_${bs58.encode(randomBytes(12))}`;
}
