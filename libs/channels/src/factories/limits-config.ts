import { z } from 'zod';
import { DEFAULT_PROVIDER_LIMITS, type ProviderLimits } from '../ports';

const positive = z.number().int().positive();

/**
 * The longest a provider call may wait for its answer, or for its rate slot: together within the 10
 * minutes a send's claim is leased for, past which it is taken for lost and sent again, and within a
 * timer's reach (a longer one fires at once: every call timed out).
 */
export const MAX_PROVIDER_WAIT_MS = 300_000;

/** Any subset of the provider limits; the rest come from the defaults. */
export const ProviderLimitsSchema = z
  .object({
    timeoutMs: positive.max(MAX_PROVIDER_WAIT_MS),
    concurrency: positive,
    queue: z.number().int().nonnegative(),
    ratePerSecond: z.number().positive(),
    burst: positive,
    maxRateWaitMs: z.number().int().nonnegative().max(MAX_PROVIDER_WAIT_MS),
    breakerFailures: positive,
    breakerHalfOpenAfterMs: positive,
  })
  .partial()
  .optional();

export type ProviderLimitsInput = z.input<typeof ProviderLimitsSchema>;

export function resolveLimits(input: z.output<typeof ProviderLimitsSchema>): ProviderLimits {
  const ratePerSecond = input?.ratePerSecond ?? DEFAULT_PROVIDER_LIMITS.ratePerSecond;
  // The burst follows a configured rate unless set itself: one second's worth of calls.
  const burst = input?.burst ?? (input?.ratePerSecond === undefined ? DEFAULT_PROVIDER_LIMITS.burst : Math.max(1, Math.ceil(ratePerSecond)));
  return { ...DEFAULT_PROVIDER_LIMITS, ...input, ratePerSecond, burst };
}
