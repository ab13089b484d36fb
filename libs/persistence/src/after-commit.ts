import type { AppLogger } from '@notify/observability';
import { backoffDelayMs } from './stores/backoff';
import type { RetryPolicy } from './entities/message.entity';

/** How a step that follows a commit is tried again: the route retry policy's shape and its backoff. */
export interface AfterCommitRetry extends RetryPolicy {
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /**
   * Instead of `maxAttempts`: the time (ms since the epoch, by `now`) until which tries go on, however
   * many, as long as the next one would start before it.
   */
  until?: number;
  /** Instead of `maxAttempts`: how long from the first try tries go on (as `until`, counted from it). */
  forMs?: number;
  now?: () => number;
}

/**
 * About 1.5 minutes of waits between tries: a PostgreSQL restart or a broker election, well within a
 * send's lease. Each try takes its own time on top (a produce to an absent broker runs kafkajs's own
 * retries first, about a minute), so giving up can take about 10 minutes. Services take their retry as
 * an `@Optional()` constructor parameter defaulting to this one: no module provides another, so Nest
 * passes none; specs construct services with one whose waits take no time.
 */
export const AFTER_COMMIT_RETRY: AfterCommitRetry = {
  maxAttempts: 8,
  initialBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/**
 * Runs a step that must follow something already done and not undoable — providers that accepted a
 * batch, a transaction that committed — until it succeeds, within a bound: recording what the
 * providers did, publishing the events of committed outcomes. Giving up at the first error would
 * leave the outcomes unrecorded (and the messages sent again once their lease runs out) or the events
 * never published (architecture D18). The waits are the resend backoff (`backoffDelayMs`, full
 * jitter), so processes that failed together do not all come back at once. Only after the last try
 * does the step's own error go up.
 */
export async function afterCommit<T>(step: string, run: () => Promise<T>, logger: AppLogger, retry: AfterCommitRetry = AFTER_COMMIT_RETRY): Promise<T> {
  const now = retry.now ?? Date.now;
  const startedAt = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const wait = backoffDelayMs(retry, attempt, retry.random);
      const forMs = retry.forMs;
      const until = retry.until ?? (forMs === undefined ? undefined : startedAt + forMs);
      if (until === undefined ? attempt >= retry.maxAttempts : now() + wait >= until) throw error;
      logger.warn({ step, attempt, err: error }, `${step} failed; trying again`);
      await retry.sleep(wait);
    }
  }
}
