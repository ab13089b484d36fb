/**
 * Runs a poll `intervalMs` after the previous one ended, or at once when it says more is waiting;
 * one at a time, so polls never queue up behind a slow one. `stop` waits only for the poll running,
 * which sees `stopping` and ends after the batch in hand: a backlog must not hold up a shutdown
 * (polls queued by an interval timer, each draining everything due, held it for minutes).
 */
export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  /** @param poll one poll; resolves true when more is due than it took */
  constructor(
    private readonly poll: () => Promise<boolean>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
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
        .catch((err: unknown) => {
          this.onError(err);
          return false;
        })
        .then((again) => {
          if (!this.stopped) this.schedule(again ? 0 : this.intervalMs);
        });
    }, delayMs);
  }
}
