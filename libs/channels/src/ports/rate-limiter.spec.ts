import type { Clock } from './clock';
import { RateLimiter } from './rate-limiter';

function clockAt(start: number): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, sleep: () => Promise.resolve(), advance: (ms) => (now += ms) };
}

describe('RateLimiter', () => {
  it('lets a burst through, then spaces calls at the rate', () => {
    const clock = clockAt(0);
    const limiter = new RateLimiter(2, 2, 10_000, clock);
    expect([limiter.reserve(), limiter.reserve(), limiter.reserve(), limiter.reserve()]).toEqual([0, 0, 500, 1000]);
  });

  it('refills with time', () => {
    const clock = clockAt(0);
    const limiter = new RateLimiter(1, 1, 10_000, clock);
    expect(limiter.reserve()).toBe(0);
    clock.advance(1000);
    expect(limiter.reserve()).toBe(0);
  });

  it('refuses a call that would wait longer than allowed, without taking a slot', () => {
    const clock = clockAt(0);
    const limiter = new RateLimiter(1, 1, 1500, clock);
    expect(limiter.reserve()).toBe(0);
    expect(limiter.reserve()).toBe(1000);
    expect(limiter.reserve()).toBeNull();
    expect(limiter.nextSlotInMs()).toBe(2000);
    clock.advance(2000);
    expect(limiter.reserve()).toBe(0);
  });

  it('spaces the retries of refused calls at the rate, from the next free slot', () => {
    const clock = clockAt(0);
    const limiter = new RateLimiter(2, 1, 1000, clock);
    expect([limiter.reserve(), limiter.reserve(), limiter.reserve(), limiter.reserve()]).toEqual([0, 500, 1000, null]);
    // The next free slot is 1,500 ms away; three refused callers come back half a second apart from it.
    expect([limiter.refusalRetryMs(), limiter.refusalRetryMs(), limiter.refusalRetryMs()]).toEqual([1500, 2000, 2500]);
    clock.advance(1000);
    expect(limiter.refusalRetryMs()).toBe(2000);
    // Once the deferred callers' times have passed, a refusal is timed from the next free slot again.
    clock.advance(10_000);
    expect([limiter.reserve(), limiter.reserve(), limiter.reserve(), limiter.reserve()]).toEqual([0, 500, 1000, null]);
    expect(limiter.refusalRetryMs()).toBe(1500);
  });
});
