import type { ErrorObject } from "ajv";
import { MAX_DURATION_MS } from "../../config/config.js";
import { TagpulseError } from "../../lib/errors.js";

/**
 * How an upstream call failed. Refusals (throttled, forbidden, login) say the upstream does not want
 * us now; transient failures (timeout, network, server) say nothing about us; the rest are answers
 * that must not be stored.
 */
export type UpstreamFailureKind =
  "throttled" | "forbidden" | "login" | "timeout" | "network" | "server" | "malformed" | "invalid_row" | "invalid_request" | "empty";

const REFUSALS: ReadonlySet<UpstreamFailureKind> = new Set(["throttled", "forbidden", "login"]);
const RETRIED: ReadonlySet<UpstreamFailureKind> = new Set(["throttled", "forbidden", "login", "timeout", "network", "server"]);

/** A failed upstream call, in tagpulse's error model (503: the upstream is unavailable to us). */
export class UpstreamError extends TagpulseError {
  readonly kind: UpstreamFailureKind;
  /** The upstream's `Retry-After`, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: UpstreamFailureKind, message: string, options: { retryAfterMs?: number | undefined; cause?: unknown } = {}) {
    super("unavailable", message, { cause: options.cause });
    this.name = "UpstreamError";
    this.kind = kind;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** The upstream refused us: counts toward stopping a run. */
  get refusal(): boolean {
    return REFUSALS.has(this.kind);
  }

  /** Worth another try after a pause. */
  get retryable(): boolean {
    return RETRIED.has(this.kind);
  }
}

/** `Retry-After` in ms (at most about 24 days): delta seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Math.min(Number(value.trim()) * 1000, MAX_DURATION_MS);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), MAX_DURATION_MS);
}

/** The first ajv error as "field message", e.g. `vv must be >= 0` or `hashtagName is missing`. */
export function describeInvalid(errors: readonly ErrorObject[] | null | undefined): string {
  const first = errors?.[0];
  if (!first) return "invalid";
  const path = first.instancePath.replace(/^\//, "").replaceAll("/", ".");
  if (first.keyword === "required") return `${path ? `${path}.` : ""}${String(first.params["missingProperty"])} is missing`;
  return `${path || "the answer"} ${first.message ?? "is invalid"}`;
}
