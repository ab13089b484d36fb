import { BoundedWork } from './bounded-work';

describe('BoundedWork', () => {
  it('starts work while its units stay within the limit, refuses what would pass it, and takes more once some is done', async () => {
    const releases: (() => void)[] = [];
    const started: number[] = [];
    const work = (n: number) => () => (started.push(n), new Promise<void>((resolve) => releases.push(resolve)));
    const bounded = new BoundedWork(10);

    expect([bounded.start(6, work(1)), bounded.start(4, work(2)), bounded.start(1, work(3))]).toEqual([true, true, false]);
    expect(started).toEqual([1, 2]);
    let settled = false;
    const settling = bounded.settled().then(() => void (settled = true));
    releases[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(bounded.start(6, work(4))).toBe(true);
    expect(started).toEqual([1, 2, 4]);
    releases[1]!();
    releases[2]!();
    await settling;
    expect(settled).toBe(true);
    expect(bounded.start(10, work(5))).toBe(true);
  });
});
