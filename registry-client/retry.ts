import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How failed requests are retried. Every method is retried by the transport on these conditions except
 * PATCH (an upload chunk), whose recovery asks the registry for the upload's offset instead (see streamBlob).
 */
export interface RetryPolicy {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  /** Delay before the second attempt, doubled each time, with jitter (50–100 % of the computed delay). */
  readonly baseDelayMs: number;
  /** Upper bound of one delay (a longer Retry-After is honoured only up to the total budget). */
  readonly maxDelayMs: number;
  /** Upper bound of the time spent on one request including all its retries and delays. */
  readonly maxTotalMs: number;
  /** Statuses worth retrying: rate limit and transient server/gateway failures. */
  readonly retryStatuses: readonly number[];
}

/**
 * The default policy: 5 attempts, 250 ms doubling to at most 8 s, at most 2 minutes per request.
 * 408/429/5xx are the statuses registries and their CDNs use for transient trouble (as ggcr and undici do);
 * 501 is left out because "not implemented" never heals. Connection errors and timeouts are always retried.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxTotalMs: 120_000,
  retryStatuses: Object.freeze([408, 429, 500, 502, 503, 504]),
});

/** Returns the delay before attempt `attempt + 1` (attempt counts from 1), with jitter. */
export function backoffDelay(p: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const raw = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(raw * (0.5 + random() * 0.5));
}

/** Returns the Retry-After header as milliseconds (delta-seconds or HTTP date), or undefined. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Sleeps `ms`, or rejects when `signal` aborts. */
export async function delay(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, signal ? { signal } : {});
}
