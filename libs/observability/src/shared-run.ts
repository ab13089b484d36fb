/**
 * One run of `work` shared by every caller while it runs, and its result served again for `reuseMs`
 * after it ends; a run that fails is not served again. For endpoints anyone who reaches a port can
 * call (`/health`, `/metrics`): a flood of callers costs one run a window.
 */
export class SharedRun<T> {
  /** The run in flight, or the last one while its result is served again. */
  private latest?: { result: Promise<T>; reusableUntil: number };

  constructor(
    private readonly work: () => Promise<T>,
    private readonly reuseMs: number,
  ) {}

  /** The run in flight, the last one within the reuse window, or a new run. */
  get(): Promise<T> {
    const latest = this.latest;
    if (latest !== undefined && Date.now() < latest.reusableUntil) return latest.result;
    // In flight until it settles: no end yet.
    const run = { result: this.work(), reusableUntil: Infinity };
    this.latest = run;
    run.result.then(
      () => {
        if (this.latest === run) run.reusableUntil = Date.now() + this.reuseMs;
      },
      () => {
        if (this.latest === run) this.latest = undefined;
      },
    );
    return run.result;
  }
}
