import { sendsClaimedAt } from '@notify/channels';
import { WeightedLimit } from './weighted-limit';

function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('WeightedLimit', () => {
  it('holds work back until enough units are free, in arrival order', async () => {
    const limit = new WeightedLimit(10);
    const started: string[] = [];
    const first = gate();
    const running = [
      limit.run(6, async () => {
        started.push('a');
        await first.opened;
      }),
      limit.run(6, async () => void started.push('b')),
      limit.run(1, async () => void started.push('c')),
    ];
    await Promise.resolve();
    // `c` would fit, but it arrived after `b`, which is waiting for `a`.
    expect(started).toEqual(['a']);
    first.open();
    await Promise.all(running);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('runs held-back work with the claim time of its caller, which the providers count their budget from', async () => {
    const limit = new WeightedLimit(1);
    const first = gate();
    const running = limit.run(1, () => first.opened);
    const held = sendsClaimedAt.run(1_000, () => limit.run(1, async () => sendsClaimedAt.getStore()));
    sendsClaimedAt.run(2_000, () => first.open());
    await running;
    expect(await held).toBe(1_000);
  });

  it('lets work heavier than the capacity run alone instead of waiting forever', async () => {
    const limit = new WeightedLimit(4);
    await expect(limit.run(100, async () => 'done')).resolves.toBe('done');
  });

  it('frees the units of work that failed', async () => {
    const limit = new WeightedLimit(2);
    await expect(limit.run(2, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit.run(2, async () => 'after')).resolves.toBe('after');
  });
});
