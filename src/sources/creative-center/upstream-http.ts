import { parseRetryAfter, UpstreamError } from "./upstream-error.js";

/** Answers within this many ms, or the call fails as a timeout. */
export const DEFAULT_TIMEOUT_MS = 15_000;

/** A browser's user agent: the upstream serves its web page's own calls. */
export const BROWSER_USER_AGENT =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/**
 * One upstream call that answers parsed JSON, or throws an UpstreamError saying how it failed:
 * 429 throttled (with its Retry-After), 403 forbidden, 5xx server, a timeout, a network failure,
 * another status, or a body that is not JSON.
 */
export async function fetchJson(url: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  const what = `${init.method ?? "GET"} ${new URL(url).pathname}`;
  let text: string;
  let response: Response;
  try {
    const timeout = AbortSignal.timeout(timeoutMs);
    response = await fetch(url, { ...init, signal: signal ? AbortSignal.any([timeout, signal]) : timeout, redirect: "manual" });
    text = await response.text();
  } catch (error) {
    // The caller's own abort is not the upstream's failure.
    if (signal?.aborted) throw error;
    if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
      throw new UpstreamError("timeout", `${what}: no answer within ${timeoutMs} ms`, { cause: error });
    }
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    throw new UpstreamError("network", `${what}: ${reason}`, { cause: error });
  }
  if (response.status === 429) {
    throw new UpstreamError("throttled", `${what}: HTTP 429 (throttled)`, {
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
    });
  }
  if (response.status === 403) {
    throw new UpstreamError("forbidden", `${what}: HTTP 403 (refused)`, {
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
    });
  }
  if (response.status >= 500) throw new UpstreamError("server", `${what}: HTTP ${response.status}`);
  if (response.status !== 200) throw new UpstreamError("invalid_request", `${what}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UpstreamError(
      "malformed",
      `${what}: the body is not JSON (${text.length} bytes, starting ${JSON.stringify(text.slice(0, 40))})`,
    );
  }
}
