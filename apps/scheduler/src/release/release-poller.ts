import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { FATAL_ERROR_HANDLER, KAFKA_PRODUCER, sendJobs, type FatalErrorHandler } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, FallbackStore, STRANDED_AFTER_MS, type AfterCommitRetry, type Released } from '@notify/persistence';
import { publishStaged, retriedProducer } from '../retried-producer';
import type { Counter } from 'prom-client';
import { PollLoop } from '../poll-loop';

export interface ReleaseSettings {
  pollIntervalMs: number;
  releaseBatchSize: number;
}
export const RELEASE_SETTINGS = Symbol('RELEASE_SETTINGS');
export const SCHEDULER_CLOCK = Symbol('SCHEDULER_CLOCK');

/**
 * Every few seconds, releases held deliveries whose time has come — scheduled sends and
 * escalations to the next channel — in bounded batches that several schedulers can share
 * (`FOR UPDATE SKIP LOCKED`), and hands them to their channels. Every `STRANDED_AFTER_MS`, in a loop
 * of its own, it looks for held tiers whose lower tier ended without its event reaching the message
 * center: that look reads every held tier waiting without a time, seconds with millions of them, and
 * in the same loop it held up every scheduled send and escalation for as long.
 */
@Injectable()
export class ReleasePoller implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop: PollLoop;
  private readonly strandedLoop: PollLoop;
  private readonly released: Counter;

  constructor(
    private readonly store: FallbackStore,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(RELEASE_SETTINGS) private readonly settings: ReleaseSettings,
    @Inject(SCHEDULER_CLOCK) private readonly clock: () => Date,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    metrics: Metrics,
    @Optional() private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
    @Optional() @Inject(FATAL_ERROR_HANDLER) onFatal?: FatalErrorHandler,
  ) {
    this.released = metrics.counter('notify_deliveries_released_total', 'Held deliveries released to their channel');
    this.loop = new PollLoop(async () => (await this.releaseDue(), false), settings.pollIntervalMs, {
      name: 'release',
      onError: (err) => this.logger.error({ err }, 'release poll failed'),
      onGiveUp: onFatal,
    });
    this.strandedLoop = new PollLoop(async () => (await this.releaseStranded(), false), STRANDED_AFTER_MS, {
      name: 'stranded tier',
      // No give-up: restarting would not mend what fails only this look (a statement timeout), and would stop the releases.
      onError: (err) => this.logger.error({ err }, 'stranded tier check failed'),
    });
  }

  onApplicationBootstrap(): void {
    this.loop.start();
    // Soon after start too: a scheduler restarted after an outage finds what was stranded meanwhile.
    this.strandedLoop.start(this.settings.pollIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.loop.stop(), this.strandedLoop.stop()]);
  }

  /** Releases everything due now, one bounded batch at a time, or until the app shuts down; returns how many it released or expired. */
  async releaseDue(): Promise<number> {
    return this.drain(this.loop, (now, limit) => this.store.releaseDue(now, limit));
  }

  /** Moves the held tiers whose lower tier ended without its event reaching the message center; returns how many. */
  async releaseStranded(): Promise<number> {
    const stranded = await this.drain(this.strandedLoop, (at, limit) => this.store.releaseStranded(at, limit));
    if (stranded > 0) this.logger.warn({ count: stranded }, 'moved held tiers whose lower tier ended without an event reaching the fallback');
    return stranded;
  }

  private async drain(loop: PollLoop, take: (now: Date, limit: number) => Promise<Released>): Promise<number> {
    let total = 0;
    while (!loop.stopping) {
      const { jobs, expired, taken } = await take(this.clock(), this.settings.releaseBatchSize);
      // The release has committed: its jobs would wait for their lease, its expiries for the outbox relay.
      // The expiries first, in calls of their own: otherwise they wait for the relay's time, while released
      // jobs that a failing delivery topic refuses are sent again by the resend poller once their lease runs out.
      const producer = retriedProducer(this.producer, 'producing released deliveries', this.logger, this.retry);
      await publishStaged(producer, 'publishing expired deliveries', expired, this.logger);
      if (jobs.length > 0) await sendJobs(producer, jobs);
      this.released.inc(jobs.length);
      total += jobs.length + expired.length;
      // Not what it released: a batch that also cancelled tiers whose lower tier had delivered (after a
      // broadcast, most of them) was taken for the last, and the rest waited for the next poll.
      if (taken < this.settings.releaseBatchSize) return total;
    }
    return total;
  }
}
