/**
 * At most `capacity` units of work at once, shared by every partition of a channel: a push chunk
 * to 50 tokens takes 50 units, one SMS takes one. Waiters are served in arrival order.
 */
export class WeightedLimit {
  private inUse = 0;
  private readonly waiting: Array<{ weight: number; start: () => void }> = [];

  constructor(readonly capacity: number) {}

  async run<T>(weight: number, work: () => Promise<T>): Promise<T> {
    const units = Math.min(Math.max(1, weight), this.capacity);
    await this.acquire(units);
    try {
      return await work();
    } finally {
      this.release(units);
    }
  }

  private acquire(units: number): Promise<void> {
    if (this.waiting.length === 0 && this.inUse + units <= this.capacity) {
      this.inUse += units;
      return Promise.resolve();
    }
    return new Promise((start) => this.waiting.push({ weight: units, start }));
  }

  private release(units: number): void {
    this.inUse -= units;
    while (this.waiting.length > 0 && this.inUse + this.waiting[0]!.weight <= this.capacity) {
      const next = this.waiting.shift()!;
      this.inUse += next.weight;
      next.start();
    }
  }
}
