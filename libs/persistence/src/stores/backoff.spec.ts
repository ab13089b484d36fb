import { backoffDelayMs } from './backoff';

const policy = { maxAttempts: 5, initialBackoffMs: 1_000, maxBackoffMs: 10_000 };

describe('backoffDelayMs', () => {
  it('doubles the ceiling with each attempt up to the maximum', () => {
    const ceiling = (attempts: number) => backoffDelayMs(policy, attempts, () => 0.999999);
    expect([1, 2, 3, 4, 5, 6].map(ceiling)).toEqual([999, 1_999, 3_999, 7_999, 9_999, 9_999]);
  });

  it('draws the wait uniformly from zero to the ceiling (full jitter)', () => {
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(0);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(2_000);
  });

  it('treats a delivery that was never attempted like a first attempt', () => {
    expect(backoffDelayMs(policy, 0, () => 0.5)).toBe(500);
  });
});
