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
