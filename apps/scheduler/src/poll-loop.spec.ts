import { eventually } from '@notify/testing';
import { PollLoop } from './poll-loop';

describe('PollLoop', () => {
  it('gives up once, with the last error, when every poll has failed for its time, and not while one succeeds in between', async () => {
    const given: Error[] = [];
    let polls = 0;
    let failing = false;
    // Each poll takes 10 ms of this clock.
    let time = 0;
    const loop = new PollLoop(
      async () => {
        polls += 1;
        time += 10;
        // The first polls alternate: a success in between starts the count again.
        if (failing || polls % 2 === 0) throw new Error(`poll ${polls} refused: read-only transaction`);
        return false;
      },
      1,
      { name: 'release', onError: () => undefined, onGiveUp: (err) => given.push(err), afterMs: 100, now: () => time },
    );
    loop.start(0);
    try {
      await eventually(async () => polls, (n) => n >= 30);
      expect(given).toEqual([]);
      failing = true;
      const failingFrom = polls;
      await eventually(async () => polls, (n) => n >= failingFrom + 30);
      expect(given).toHaveLength(1);
      expect(given[0]!.message).toBe('release polls have failed for 100 ms; giving up');
      expect(String(given[0]!.cause)).toMatch(/refused: read-only transaction/);
    } finally {
      await loop.stop();
    }
  });

  describe('with polls that take long', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('gives up on a poll that has made no progress for its time, also while stopping, and the stop then waits for it no longer', async () => {
      const given: Error[] = [];
      let polls = 0;
      // Its COMMIT waits for a synchronous standby that is gone: it neither ends nor fails.
      const loop = new PollLoop(() => (polls++, new Promise<boolean>(() => undefined)), 1_000, {
        name: 'release',
        onError: () => undefined,
        onGiveUp: (err) => given.push(err),
        stuckAfterMs: 60_000,
      });
      loop.start(0);
      await jest.advanceTimersByTimeAsync(59_999);
      expect(given).toEqual([]);
      const stopped = loop.stop();

      await jest.advanceTimersByTimeAsync(1);

      expect(given.map((err) => err.message)).toEqual(['the release poll running has made no progress for 60000 ms; giving up']);
      await stopped;
      expect(polls).toBe(1);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('does not give up on a slow poll that ends in time, nor on polls that outlast the time but make progress between their steps, as a drain does', async () => {
      const given: Error[] = [];
      let polls = 0;
      const loop: PollLoop = new PollLoop(
        async () => {
          // The first one slow, in one step; the time between polls is longer than the limit.
          if (++polls === 1) return new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 59_000));
          // Then a backlog: five batches of 40 s each, 200 s a poll, `stopping` read after each batch.
          for (let batch = 0; batch < 5 && !loop.stopping; batch++) {
            await new Promise((resolve) => setTimeout(resolve, 40_000));
          }
          return false;
        },
        120_000,
        { name: 'release', onError: () => undefined, onGiveUp: (err) => given.push(err), stuckAfterMs: 60_000 },
      );
      loop.start(0);

      await jest.advanceTimersByTimeAsync(1_000_000);

      expect(polls).toBeGreaterThan(3);
      expect(given).toEqual([]);
      const stopped = loop.stop();
      await jest.advanceTimersByTimeAsync(40_000);
      await stopped;
      // Nothing is left to run out after the stop.
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
