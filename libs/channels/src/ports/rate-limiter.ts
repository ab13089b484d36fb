import type { Clock } from './clock';

/**
 * A token bucket that hands out reservations: a call may go now, after a wait, or not at all when
 * the wait would exceed `maxWaitMs` (the caller turns that into a retry-later error).
 */
export class RateLimiter {
  private tokens: number;
  private refilledAt: number;
  /** The latest retry time handed to a refused caller (see `refusalRetryMs`). */
  private deferredUntil = -Infinity;

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

  /** How long until one more call could be admitted. */
  nextSlotInMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  /**
   * When a refused caller should come back: the first at the next free slot, the ones after it spaced
   * at the rate. All told the same next slot, a backlog of N came back together every few seconds and
   * all but a few were refused again, N times over.
   */
  refusalRetryMs(): number {
    const now = this.clock.now();
    const at = Math.max(this.deferredUntil + 1000 / this.ratePerSecond, now + this.nextSlotInMs());
    this.deferredUntil = at;
    return Math.ceil(at - now);
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    this.refilledAt = now;
  }
}
