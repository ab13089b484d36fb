/**
 * When each partition's current run of failed batches began; a partition's success ends only its
 * own. Shared by the partitions, a partition that failed for ever went unnoticed as long as another
 * one succeeded now and then.
 */
export class PartitionFailures {
  private readonly since = new Map<string, number>();

  failed(partition: string, now: number): void {
    if (!this.since.has(partition)) this.since.set(partition, now);
  }

  succeeded(partition: string): void {
    this.since.delete(partition);
  }

  /**
   * After a rebalance: a partition given to another member is that member's to time now. Kept, its
   * failures made this member give up (exit) though no partition it owns had failed for long.
   */
  keepOnly(assignment: Record<string, number[]>): void {
    const assigned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}:${p}`)));
    for (const partition of [...this.since.keys()]) if (!assigned.has(partition)) this.since.delete(partition);
  }

  /** How long the partition failing longest has failed without a success; 0 when none is failing. */
  longestMs(now: number): number {
    return Math.max(0, ...[...this.since.values()].map((since) => now - since));
  }
}
