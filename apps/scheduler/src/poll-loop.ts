/** How long polls may fail one after another, with no success between, before the process gives up. */
export const POLLS_FAILING_GIVE_UP_MS = 600_000;

/**
 * How long a poll may go on with no progress before the loop takes it for stuck and gives up: as
 * long as a Kafka consumer's batch (`maxBatchMs`). A step of a poll can take longer only while the
 * broker is gone: each produce is tried again in place for about 10 minutes, and a step may make
 * several; the scheduler then gives up as the other apps' consumers do after 10 minutes out of their
 * group.
 */
export const POLL_STUCK_GIVE_UP_MS = 900_000;

/** What a loop does with a failed or stuck poll: logs it, and gives up once polls have failed for `afterMs` or one is stuck for `stuckAfterMs`. */
export interface PollFailures {
  /** What the loop polls for, in its give-up errors: `release`, `outbox relay`. */
  name: string;
  onError: (err: unknown) => void;
  /** Called once, with an error that says why, when the loop gives up (the process exits for its supervisor). */
  onGiveUp?: (err: Error) => void;
  afterMs?: number;
  stuckAfterMs?: number;
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
 * failed every claim, and the scheduler, green, sent nothing for good. So it does when a poll has
 * made no progress for `stuckAfterMs` (15 minutes), also while stopping: a poll that never ends (every
 * COMMIT waiting on a synchronous standby that is gone) never failed, and the loop never polled again.
 * A poll makes progress by reading `stopping` between its steps, as every drain does after each batch:
 * a backlog that takes longer to drain is not stuck.
 */
export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** When the polls began to fail, with no success since. */
  private failingSince: number | undefined;
  private gaveUp = false;
  /** Runs out when the poll running has made no progress for `stuckAfterMs`; none between polls. */
  private watchdog: NodeJS.Timeout | undefined;
  /** Resolves once the loop has given up on a stuck poll: a stop then waits for it no longer. */
  private readonly stuck: Promise<void>;
  private stuckNow: () => void = () => undefined;

  /** @param poll one poll; resolves true when more is due than it took */
  constructor(
    private readonly poll: () => Promise<boolean>,
    private readonly intervalMs: number,
    private readonly failures: PollFailures,
  ) {
    this.stuck = new Promise((resolve) => (this.stuckNow = resolve));
  }

  /** Read by the poll running between its steps, which so shows it is not stuck. */
  get stopping(): boolean {
    if (this.watchdog) this.watch();
    return this.stopped;
  }

  /** Runs the first poll after `firstDelayMs` (the interval), then each one `intervalMs` after the last. */
  start(firstDelayMs = this.intervalMs): void {
    this.schedule(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // The poll running is still watched: one that is stuck never ends, and once the loop has given up
    // on it (the process is exiting) the stop waits for it no longer.
    await Promise.race([this.running, this.stuck]);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.watch();
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
          clearTimeout(this.watchdog);
          this.watchdog = undefined;
          if (!this.stopped) this.schedule(again ? 0 : this.intervalMs);
        });
    }, delayMs);
  }

  /** Starts the wait for the poll running's next progress again. */
  private watch(): void {
    const ms = this.failures.stuckAfterMs ?? POLL_STUCK_GIVE_UP_MS;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.stuckFor(ms), ms);
  }

  private stuckFor(ms: number): void {
    this.watchdog = undefined;
    const error = new Error(`the ${this.failures.name} poll running has made no progress for ${ms} ms; giving up`);
    this.failures.onError(error);
    this.stuckNow();
    this.giveUp(error);
  }

  private failed(err: unknown): void {
    this.failures.onError(err);
    const now = (this.failures.now ?? Date.now)();
    this.failingSince ??= now;
    const afterMs = this.failures.afterMs ?? POLLS_FAILING_GIVE_UP_MS;
    if (now - this.failingSince >= afterMs) this.giveUp(new Error(`${this.failures.name} polls have failed for ${afterMs} ms; giving up`, { cause: err }));
  }

  private giveUp(error: Error): void {
    if (this.gaveUp) return;
    this.gaveUp = true;
    this.failures.onGiveUp?.(error);
  }
}
