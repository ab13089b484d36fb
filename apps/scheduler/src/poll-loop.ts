/** How long polls may fail one after another, with no success between, before the process gives up. */
export const POLLS_FAILING_GIVE_UP_MS = 600_000;

/** What a loop does with a failed poll: logs it, and gives up once polls have failed for `afterMs`. */
export interface PollFailures {
  onError: (err: unknown) => void;
  /** Called once, with the last error, when every poll has failed for `afterMs` (the process exits for its supervisor). */
  onGiveUp?: (err: unknown) => void;
  afterMs?: number;
  /** The time the failures are timed by; tests set it. */
  now?: () => number;
}

/**
 * Runs a poll `intervalMs` after the previous one ended, or at once when it says more is waiting;
 * one at a time, so polls never queue up behind a slow one. `stop` waits only for the poll running,
 * which sees `stopping` and ends after the batch in hand: a backlog must not hold up a shutdown
 * (polls queued by an interval timer, each draining everything due, held it for minutes).
 *
 * A poll that fails is logged and tried again at the next interval. Once every poll has failed for
 * `afterMs` (10 minutes), the loop gives up (`onGiveUp`): a pool whose connections sit on a server
 * that refuses writes (a demoted primary, a full disk) answered the health check's `SELECT 1` and
 * failed every claim, and the scheduler, green, sent nothing for good.
 */
export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** When the polls began to fail, with no success since. */
  private failingSince: number | undefined;
  private gaveUp = false;

  /** @param poll one poll; resolves true when more is due than it took */
  constructor(
    private readonly poll: () => Promise<boolean>,
    private readonly intervalMs: number,
    private readonly failures: PollFailures,
  ) {}

  get stopping(): boolean {
    return this.stopped;
  }

  /** Runs the first poll after `firstDelayMs` (the interval), then each one `intervalMs` after the last. */
  start(firstDelayMs = this.intervalMs): void {
    this.schedule(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.poll()
        .then(
          (again) => {
            this.failingSince = undefined;
            return again;
          },
          (err: unknown) => {
            this.failed(err);
            return false;
          },
        )
        .then((again) => {
          if (!this.stopped) this.schedule(again ? 0 : this.intervalMs);
        });
    }, delayMs);
  }

  private failed(err: unknown): void {
    this.failures.onError(err);
    const now = (this.failures.now ?? Date.now)();
    this.failingSince ??= now;
    if (this.gaveUp || now - this.failingSince < (this.failures.afterMs ?? POLLS_FAILING_GIVE_UP_MS)) return;
    this.gaveUp = true;
    this.failures.onGiveUp?.(err);
  }
}
