import { createLogger } from '@notify/observability';
import { afterCommit, type AfterCommitRetry } from './after-commit';

const logger = createLogger('after-commit-spec', 'silent');

describe('afterCommit', () => {
  const waits: number[] = [];
  // the longest wait each time (full jitter's random at its top), so the waits show the doubling and its bound
  const retry: AfterCommitRetry = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 300, random: () => 1, sleep: async (ms) => void waits.push(ms) };
  beforeEach(() => (waits.length = 0));

  /** A step that fails `failures` times, then answers with the number of its calls. */
  function flaky(failures: number) {
    let calls = 0;
    return {
      run: async () => {
        calls += 1;
        if (calls <= failures) throw Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
        return calls;
      },
      calls: () => calls,
    };
  }

  it('tries again, waiting longer each time up to a bound, until the step succeeds', async () => {
    const step = flaky(3);
    await expect(afterCommit('record', step.run, logger, retry)).resolves.toBe(4);
    expect(waits).toEqual([100, 200, 300]);
  });

  it('gives up after the last try with the step’s own error', async () => {
    const step = flaky(10);
    await expect(afterCommit('record', step.run, logger, retry)).rejects.toThrow('Connection terminated unexpectedly');
    expect(step.calls()).toBe(5);
    expect(waits).toEqual([100, 200, 300, 300]);
  });

  it('runs a step that succeeds once', async () => {
    const step = flaky(0);
    await expect(afterCommit('publish', step.run, logger, retry)).resolves.toBe(1);
    expect(waits).toEqual([]);
  });

  it('with a deadline, tries past the attempts as long as the next try would start before it', async () => {
    let time = 0;
    const timed: AfterCommitRetry = { ...retry, maxAttempts: 2, until: 1_000, now: () => time, sleep: async (ms) => void (waits.push(ms), (time += ms)) };
    const recovering = flaky(4);
    await expect(afterCommit('record', recovering.run, logger, timed)).resolves.toBe(5);
    expect(waits).toEqual([100, 200, 300, 300]);
    // Tries at 0, 100, 300, 600 and 900; the next would start at 1,200.
    waits.length = 0;
    time = 0;
    const down = flaky(100);
    await expect(afterCommit('record', down.run, logger, timed)).rejects.toThrow('Connection terminated unexpectedly');
    expect(down.calls()).toBe(5);
    expect(time).toBe(900);
  });

  it('for a time from its first try, tries past the attempts as long as the next try would start within it', async () => {
    let time = 5_000;
    const timed: AfterCommitRetry = { ...retry, maxAttempts: 2, forMs: 1_000, now: () => time, sleep: async (ms) => void (waits.push(ms), (time += ms)) };
    const down = flaky(100);
    await expect(afterCommit('record', down.run, logger, timed)).rejects.toThrow('Connection terminated unexpectedly');
    // Tries at 5,000, 5,100, 5,300, 5,600 and 5,900; the next would start at 6,200.
    expect(down.calls()).toBe(5);
    expect(time).toBe(5_900);
  });
});
