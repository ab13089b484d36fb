import { eventually } from '@notify/testing';
import { PollLoop } from './poll-loop';

describe('PollLoop', () => {
  it('gives up once, with the last error, when every poll has failed for its time, and not while one succeeds in between', async () => {
    const given: unknown[] = [];
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
      { onError: () => undefined, onGiveUp: (err) => given.push(err), afterMs: 100, now: () => time },
    );
    loop.start(0);
    try {
      await eventually(async () => polls, (n) => n >= 30);
      expect(given).toEqual([]);
      failing = true;
      const failingFrom = polls;
      await eventually(async () => polls, (n) => n >= failingFrom + 30);
      expect(given).toHaveLength(1);
      expect(String(given[0])).toMatch(/refused: read-only transaction/);
    } finally {
      await loop.stop();
    }
  });
});
