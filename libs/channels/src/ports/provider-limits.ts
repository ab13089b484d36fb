/** The safety settings of one provider; every field has a default in the factories' config schema. */
export interface ProviderLimits {
  /** Upper bound of one vendor call, including reading the answer. */
  timeoutMs: number;
  /** Vendor calls in flight at once. */
  concurrency: number;
  /** Calls waiting for a free slot before new ones are refused as `overloaded`. */
  queue: number;
  /** Sustained vendor calls per second. */
  ratePerSecond: number;
  /** Calls allowed at once above the sustained rate. */
  burst: number;
  /** Longest wait for a rate slot before a call is refused as `throttled`. */
  maxRateWaitMs: number;
  /** Consecutive vendor failures (timeouts, 5xx, 429, network) that open the circuit. */
  breakerFailures: number;
  /** How long the circuit stays open before one trial call is let through. */
  breakerHalfOpenAfterMs: number;
}

/**
 * How long one call may take from the moment its send was claimed (`sendsClaimedAt`), or else asked
 * for, to its answer: the channel worker leases a claimed part of sends for 10 minutes and records
 * their outcomes after the slowest of them, so every call must end within the lease with room for
 * that record. A call waits for a free slot only as long as this leaves after its rate wait and
 * timeout; one whose turn comes later is refused as `overloaded` (no attempt spent) instead of being
 * made after the lease, which would have been taken for lost and sent again.
 */
export const CALL_BUDGET_MS = 9 * 60_000;

export const DEFAULT_PROVIDER_LIMITS: ProviderLimits = {
  timeoutMs: 10_000,
  concurrency: 100,
  queue: 10_000,
  ratePerSecond: 1_000,
  burst: 1_000,
  maxRateWaitMs: 5_000,
  breakerFailures: 10,
  breakerHalfOpenAfterMs: 30_000,
};
