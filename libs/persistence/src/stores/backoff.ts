import type { RetryPolicy } from '../entities/message.entity';

/**
 * The built-in retry policy: a route's without its own settings or its table's, and a message's
 * stored without one (every route has one now; older rows may not).
 */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 30_000, maxBackoffMs: 3_600_000 };

/**
 * The wait before attempt `attempts + 1`: exponential backoff with full jitter, a uniformly random
 * time up to `min(maxBackoff, initialBackoff × 2^(attempts − 1))`, so many failures at once spread out.
 */
export function backoffDelayMs(policy: RetryPolicy, attempts: number, random: () => number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
