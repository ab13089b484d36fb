export interface SettleGateOptions {
  /** Whether, at `now`, a caller may go. */
  settled: (now: number) => boolean;
  /** The longest the first caller held waits: then every caller held goes, settled or not. */
  longestWaitMs: number;
  /** How often the gate looks again, while it holds callers, whether it may let them go. */
  checkEveryMs?: number;
}

/**
 * Holds callers until `settled` holds (or the first of them has waited `longestWaitMs`), then lets
 * them go in the order they came. A caller that comes while others are held goes behind them, even
 * once `settled` holds: let through at once, it overtook them until the next check let them go.
 * The callers held run synchronously as they are let go, so one that comes just after (the next
 * emit of the same loop) finds nobody held and cannot overtake them either.
 */
export class SettleGate {
  private readonly settled: (now: number) => boolean;
  private readonly longestWaitMs: number;
  private readonly checkEveryMs: number;
  private held: (() => void)[] = [];
  private deadline = 0;
  private timer?: NodeJS.Timeout;

  constructor({ settled, longestWaitMs, checkEveryMs = 100 }: SettleGateOptions) {
    this.settled = settled;
    this.longestWaitMs = longestWaitMs;
    this.checkEveryMs = checkEveryMs;
  }

  /** Runs `go` now if nobody is held and it is settled; otherwise once the gate lets the callers held go, after them. */
  whenSettled(go: () => void): void {
    const now = Date.now();
    const first = this.held.length === 0;
    if (first && this.settled(now)) return go();
    this.held.push(go);
    if (first) {
      this.deadline = now + this.longestWaitMs;
      this.timer = setTimeout(this.check, this.checkEveryMs);
    } else {
      this.releaseIfDue(now);
    }
  }

  /** Lets every caller held go now, in order (a shutdown does, while its connections can still receive). */
  releaseAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }

  private readonly check = (): void => {
    if (!this.releaseIfDue(Date.now())) this.timer = setTimeout(this.check, this.checkEveryMs);
  };

  private releaseIfDue(now: number): boolean {
    if (!this.settled(now) && now < this.deadline) return false;
    this.releaseAll();
    return true;
  }
}
