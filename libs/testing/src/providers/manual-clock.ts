/**
 * A clock that moves only when the test says so. Structurally the `Clock` of `@notify/channels`:
 * `sleep` resolves once `advance` has passed its deadline.
 */
export class ManualClock {
  private current: number;
  private sleepers: Array<{ until: number; wake: () => void }> = [];

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.sleepers.push({ until: this.current + ms, wake: resolve }));
  }

  advance(ms: number): void {
    this.current += ms;
    const due = this.sleepers.filter((sleeper) => sleeper.until <= this.current);
    this.sleepers = this.sleepers.filter((sleeper) => sleeper.until > this.current);
    for (const sleeper of due) sleeper.wake();
  }

  /** Callers waiting in `sleep`, to assert that something is held back. */
  get waiting(): number {
    return this.sleepers.length;
  }
}
