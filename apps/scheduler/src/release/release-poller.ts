import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { KAFKA_PRODUCER, sendJobs } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, AFTER_COMMIT_RETRY_POLICY, afterCommit, FallbackStore, type AfterCommitRetry } from '@notify/persistence';
import type { Counter } from 'prom-client';

export interface ReleaseSettings {
  pollIntervalMs: number;
  releaseBatchSize: number;
}
export const RELEASE_SETTINGS = Symbol('RELEASE_SETTINGS');
export const SCHEDULER_CLOCK = Symbol('SCHEDULER_CLOCK');

/**
 * Every few seconds, releases held deliveries whose time has come — scheduled sends and
 * escalations to the next channel — in bounded batches that several schedulers can share
 * (`FOR UPDATE SKIP LOCKED`), and hands them to their channels.
 */
@Injectable()
export class ReleasePoller implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly released: Counter;

  constructor(
    private readonly store: FallbackStore,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(RELEASE_SETTINGS) private readonly settings: ReleaseSettings,
    @Inject(SCHEDULER_CLOCK) private readonly clock: () => Date,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    metrics: Metrics,
    @Optional() @Inject(AFTER_COMMIT_RETRY_POLICY) private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
  ) {
    this.released = metrics.counter('notify_deliveries_released_total', 'Held deliveries released to their channel');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.releaseDue()).catch((err: unknown) => this.logger.error({ err }, 'release poll failed'));
    }, this.settings.pollIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Releases everything due now, one bounded batch at a time; returns how many it released or expired. */
  async releaseDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const { jobs, expired } = await this.store.releaseDue(this.clock(), this.settings.releaseBatchSize);
      if (jobs.length + expired.length > 0) {
        // The release has committed: its jobs would wait for their lease, its expiries would be lost.
        await afterCommit('producing released deliveries', () => sendJobs(this.producer, jobs, expired), this.logger, this.retry);
      }
      this.released.inc(jobs.length);
      total += jobs.length + expired.length;
      if (jobs.length + expired.length < this.settings.releaseBatchSize) return total;
    }
  }
}
