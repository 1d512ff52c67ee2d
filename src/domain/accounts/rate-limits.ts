import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";

/** The window every limit counts over. */
export const RATE_WINDOW_SECONDS = 60;

/** A key's standing in its window after one more request. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Requests allowed per window. */
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window ends and the count starts again. */
  readonly resetSeconds: number;
}

export interface RateLimits {
  /** Requests per minute of a key without its own limit. */
  readonly defaultPerMinute: number;
  /** Whether the server shares its counts with other processes through Redis. */
  readonly shared: boolean;
  /** Counts one request of a key against `perMinute`. */
  take(keyId: string, perMinute: number): Promise<RateDecision>;
  /** Seconds an address must wait after too many failed authentications, or 0. */
  authBlockedFor(address: string): Promise<number>;
  /** Counts a failed authentication of an address. */
  authFailed(address: string): Promise<void>;
  /** Connects to Redis, when there is one, so that the first requests already share counts. */
  connect(): Promise<void>;
  /** Tells `listener` when Redis fails: this process then counts alone until it is back. */
  onRedisError(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

export interface RateLimitOptions {
  readonly perMinute: number;
  readonly authFailuresPerMinute: number;
  /** Counts live in Redis, shared by every server process pointed at it; in memory without. */
  readonly redisUrl?: string | undefined;
}

/**
 * Per-key rate limits and the slow-down of addresses that keep failing authentication: fixed
 * one-minute windows, counted by rate-limiter-flexible in memory or in Redis. With Redis, each
 * process falls back to counting in memory while Redis is unreachable, rather than refusing calls.
 */
export function createRateLimits(options: RateLimitOptions): RateLimits {
  const redis = options.redisUrl
    ? new Redis(options.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 })
    : undefined;
  let listener: (error: Error) => void = () => {};
  if (redis) redis.on("error", (error: Error) => listener(error));

  const limiter = (keyPrefix: string, points: number): RateLimiterAbstract => {
    const memory = new RateLimiterMemory({ keyPrefix, points, duration: RATE_WINDOW_SECONDS });
    if (!redis) return memory;
    // Once over its limit, a key is refused from memory until the window ends, without asking Redis.
    return new RateLimiterRedis({
      storeClient: redis,
      keyPrefix,
      points,
      duration: RATE_WINDOW_SECONDS,
      inMemoryBlockOnConsumed: points + 1,
      inMemoryBlockDuration: RATE_WINDOW_SECONDS,
      insuranceLimiter: memory,
    });
  };
  const perKey = new Map<number, RateLimiterAbstract>();
  const keyLimiter = (perMinute: number) => {
    let found = perKey.get(perMinute);
    if (!found) perKey.set(perMinute, (found = limiter(`tagpulse:rate:${perMinute}`, perMinute)));
    return found;
  };
  const authFailures = limiter("tagpulse:auth-failures", options.authFailuresPerMinute);

  return {
    defaultPerMinute: options.perMinute,
    shared: redis !== undefined,

    async take(keyId, perMinute) {
      let res: RateLimiterRes;
      let allowed = true;
      try {
        res = await keyLimiter(perMinute).consume(keyId);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        res = rejection;
        allowed = false;
      }
      return {
        allowed,
        limit: perMinute,
        remaining: Math.max(0, res.remainingPoints),
        resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
      };
    },

    async authBlockedFor(address) {
      const res = await authFailures.get(address);
      if (!res || res.consumedPoints < options.authFailuresPerMinute) return 0;
      return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    },

    async authFailed(address) {
      await authFailures.consume(address).catch((rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
      });
    },

    async connect() {
      if (redis && redis.status === "wait") await redis.connect();
    },

    onRedisError(next) {
      listener = next;
    },

    async close() {
      if (redis && redis.status !== "end") redis.disconnect();
    },
  };
}
