import { PartitionFailures } from './partition-failures';

const MINUTE = 60_000;

describe('PartitionFailures', () => {
  it('times each partition from its first failure until its own success', () => {
    const failures = new PartitionFailures();
    failures.failed('requests:0', 0);
    failures.failed('requests:0', 5 * MINUTE);
    failures.failed('requests:1', 8 * MINUTE);
    expect(failures.longestMs(11 * MINUTE)).toBe(11 * MINUTE);
    // Another partition's success ends nothing of partition 0's run.
    failures.succeeded('requests:1');
    expect(failures.longestMs(11 * MINUTE)).toBe(11 * MINUTE);
    failures.succeeded('requests:0');
    expect(failures.longestMs(11 * MINUTE)).toBe(0);
  });

  it('forgets the partitions a rebalance gave to another member, and keeps timing its own', () => {
    const failures = new PartitionFailures();
    failures.failed('requests:0', 0);
    failures.failed('requests:2', 9 * MINUTE);
    failures.failed('recipients:0', 9 * MINUTE);
    failures.keepOnly({ requests: [1, 2], recipients: [0] });
    // Partition 0 is another member's now: 11 minutes of its failures are not this member's to give up on.
    expect(failures.longestMs(11 * MINUTE)).toBe(2 * MINUTE);
    failures.keepOnly({});
    expect(failures.longestMs(11 * MINUTE)).toBe(0);
  });

  it('times a member whose every batch fails across the rebalances that move its partitions, until any batch succeeds', () => {
    const failures = new PartitionFailures();
    failures.failed('requests:1', 0);
    failures.failed('requests:1', 2 * MINUTE);
    failures.keepOnly({ requests: [2] });
    failures.failed('requests:2', 3 * MINUTE);
    failures.keepOnly({ requests: [0] });
    failures.failed('requests:0', 6 * MINUTE);
    failures.failed('requests:0', 8 * MINUTE);
    failures.keepOnly({ requests: [1] });
    failures.failed('requests:1', 9 * MINUTE);
    expect(failures.longestMs(11 * MINUTE)).toBe(11 * MINUTE);
    failures.succeeded('requests:1');
    expect(failures.longestMs(11 * MINUTE)).toBe(0);
  });

  it('begins the member’s run again after a quiet spell with no failure, so an old failure is not held against a new one', () => {
    const failures = new PartitionFailures();
    failures.failed('requests:1', 0);
    failures.keepOnly({ requests: [2] });
    failures.failed('requests:2', 60 * MINUTE);
    expect(failures.longestMs(61 * MINUTE)).toBe(MINUTE);
  });
});
