import type { AppLogger } from '@notify/observability';

export interface AfterSendRetry {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait before the second try; each later wait is twice the one before, up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
}

/** About 1.5 minutes of tries: a PostgreSQL restart or a broker election, well within the send lease. */
export const AFTER_SEND_RETRY: AfterSendRetry = {
  attempts: 8,
  firstDelayMs: 500,
  maxDelayMs: 30_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Runs a step that comes after the providers have accepted a batch (recording the outcomes,
 * publishing them) until it succeeds, within a bound. Failing the batch there would hand it back
 * to the consumer with its deliveries already claimed: nothing would record what the providers did,
 * the lease would run out, and every message of the batch would be sent a second time.
 * Only after the last try does the error go up (and the batch with it).
 */
export async function afterSend<T>(step: string, run: () => Promise<T>, logger: AppLogger, retry: AfterSendRetry = AFTER_SEND_RETRY): Promise<T> {
  let delay = retry.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= retry.attempts) throw error;
      const { name, code, message } = error as { name?: string; code?: string; message?: string };
      logger.warn({ step, attempt, error: { name, code, message } }, `${step} failed after the providers' answers; trying again`);
      await retry.sleep(delay);
      delay = Math.min(delay * 2, retry.maxDelayMs);
    }
  }
}
