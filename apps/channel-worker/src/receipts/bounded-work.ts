/**
 * Work started at once up to `limit` units under way in all; past it, refused, for a caller that has
 * another way to get it done. `settled` waits for what is under way.
 */
export class BoundedWork {
  private units = 0;
  private readonly underWay = new Set<Promise<void>>();

  constructor(private readonly limit: number) {}

  /** Starts `work` (which never throws) unless it would take the units under way past the limit. */
  start(units: number, work: () => Promise<void>): boolean {
    if (this.units + units > this.limit) return false;
    this.units += units;
    const running = work().finally(() => {
      this.units -= units;
      this.underWay.delete(running);
    });
    this.underWay.add(running);
    return true;
  }

  async settled(): Promise<void> {
    await Promise.all(this.underWay);
  }
}
