import type { AppLogger } from '@notify/observability';
import { backoffDelayMs, type RetryPolicy } from '@notify/persistence';

/** How a step after the sends is tried again: the route retry policy's shape and its backoff. */
export interface AfterSendRetry extends RetryPolicy {
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

/** About 1.5 minutes of tries at most: a PostgreSQL restart or a broker election, well within the send lease. */
export const AFTER_SEND_RETRY: AfterSendRetry = {
  maxAttempts: 8,
  initialBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/**
 * Runs a step that comes after the providers have accepted a batch (recording the outcomes,
 * publishing them) until it succeeds, within a bound. Failing the batch there would hand it back
 * to the consumer with its deliveries already claimed: nothing would record what the providers did,
 * the lease would run out, and every message of the batch would be sent a second time.
 * The waits are the resend backoff (`backoffDelayMs`, full jitter), so workers that failed together
 * do not all come back at once. Only after the last try does the error go up (and the batch with it).
 */
export async function afterSend<T>(step: string, run: () => Promise<T>, logger: AppLogger, retry: AfterSendRetry = AFTER_SEND_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= retry.maxAttempts) throw error;
      logger.warn({ step, attempt, err: error }, `${step} failed after the providers' answers; trying again`);
      await retry.sleep(backoffDelayMs(retry, attempt, retry.random));
    }
  }
}
