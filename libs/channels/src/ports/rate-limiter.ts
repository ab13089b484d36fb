import type { Clock } from './clock';

/**
 * A token bucket that hands out reservations: a call may go now, after a wait, or not at all when
 * the wait would exceed `maxWaitMs` (the caller turns that into a retry-later error).
 */
export class RateLimiter {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxWaitMs: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.refilledAt = clock.now();
  }

  /** Milliseconds the caller must wait before its call (0 = go now), or `null` when refused. */
  reserve(): number | null {
    this.refill();
    const waitMs = this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.ratePerSecond) * 1000;
    if (waitMs > this.maxWaitMs) return null;
    // Tokens may go negative: each negative unit is a caller already promised a later slot.
    this.tokens -= 1;
    return waitMs;
  }

  /** How long until one more call could be admitted, for a refusal's retry hint. */
  nextSlotInMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    this.refilledAt = now;
  }
}
