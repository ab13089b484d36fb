/**
 * When each partition's current run of failed batches began; a partition's success ends only its
 * own. Shared by the partitions, a partition that failed for ever went unnoticed as long as another
 * one succeeded now and then.
 *
 * The member's own run is timed too: from its first failure after a success (or after a quiet
 * spell), across rebalances, until any batch succeeds. A member whose every batch fails (its pool on
 * a standby that became read-only) crashes and rejoins every couple of minutes, and each rejoin may
 * hand it other partitions: timed per partition only, the run began again at each move, and it
 * could go on failing for hours instead of exiting for its supervisor.
 */
export class PartitionFailures {
  private readonly since = new Map<string, number>();
  private memberSince: number | undefined;
  private lastFailure = -Infinity;

  /** A gap between failures longer than this, with no batch in it, begins a new run of the member's. */
  static readonly QUIET_MS = 5 * 60_000;

  failed(partition: string, now: number): void {
    if (!this.since.has(partition)) this.since.set(partition, now);
    if (this.memberSince === undefined || now - this.lastFailure > PartitionFailures.QUIET_MS) this.memberSince = now;
    this.lastFailure = now;
  }

  succeeded(partition: string): void {
    this.since.delete(partition);
    this.memberSince = undefined;
  }

  /**
   * After a rebalance: a partition given to another member is that member's to time now. Kept, its
   * failures made this member give up (exit) though no partition it owns had failed for long.
   */
  keepOnly(assignment: Record<string, number[]>): void {
    const assigned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}:${p}`)));
    for (const partition of [...this.since.keys()]) if (!assigned.has(partition)) this.since.delete(partition);
  }

  /**
   * How long the member has been failing, while a partition it owns is failing: the longer of that
   * partition's run and the member's own; 0 when none is failing.
   */
  longestMs(now: number): number {
    if (this.since.size === 0) return 0;
    const member = this.memberSince === undefined ? 0 : now - this.memberSince;
    return Math.max(member, ...[...this.since.values()].map((since) => now - since));
  }
}
