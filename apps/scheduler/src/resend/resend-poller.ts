import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { eventMessages, KAFKA_PRODUCER, publishOutcomes, sendInChunks } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, AFTER_COMMIT_RETRY_POLICY, afterCommit, ResendStore, type AfterCommitRetry } from '@notify/persistence';
import type { Counter } from 'prom-client';
import { resendRecords } from './resend-records';

export interface ResendSettings {
  pollIntervalMs: number;
  resendLeaseMs: number;
  resendReceiversPerClaim: number;
}
export const RESEND_SETTINGS = Symbol('RESEND_SETTINGS');
export const RESEND_CLOCK = Symbol('RESEND_CLOCK');
export const RESEND_RANDOM = Symbol('RESEND_RANDOM');

/** At most this many claims per poll, so one poll is bounded in time whatever the backlog. */
const MAX_CLAIMS_PER_POLL = 20;

/**
 * Re-sends failed deliveries batched per receiver: every few seconds it fails the sends whose
 * outcome never came (their claim's lease ran out), schedules newly failed deliveries (backoff with
 * full jitter, or `dead`/`expired`), then claims whole receivers whose
 * anything is due and hands each receiver's pending messages to its channel as one batch —
 * for browsers one `notifications` event acknowledged once.
 */
@Injectable()
export class ResendPoller implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly resent: Counter;
  private readonly batches: Counter;

  constructor(
    private readonly store: ResendStore,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(RESEND_SETTINGS) private readonly settings: ResendSettings,
    @Inject(RESEND_CLOCK) private readonly clock: () => Date,
    @Inject(RESEND_RANDOM) private readonly random: () => number,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    metrics: Metrics,
    @Optional() @Inject(AFTER_COMMIT_RETRY_POLICY) private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
  ) {
    this.resent = metrics.counter('notify_deliveries_resent_total', 'Deliveries handed to their channel again', ['channel']);
    this.batches = metrics.counter('notify_resend_batches_total', 'Receiver batches re-sent', ['channel']);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.poll()).catch((err: unknown) => this.logger.error({ err }, 'resend poll failed'));
    }, this.settings.pollIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * One round: fail the sends whose outcome never came, schedule what newly failed, then claim and
   * send what is due. Returns how many deliveries went out.
   */
  async poll(): Promise<number> {
    const receivers = this.settings.resendReceiversPerClaim;
    for (;;) {
      const lost = await this.store.failUnanswered(this.clock(), receivers * 10);
      await this.afterCommit('publishing lost sends', () => publishOutcomes(this.producer, lost));
      if (lost.length < receivers * 10) break;
    }
    // Bounded like the claims: while failures arrive as fast as they are scheduled, the round still
    // goes on to claim and send; what is left is scheduled by the next poll.
    for (let chunks = 0; chunks < MAX_CLAIMS_PER_POLL; chunks++) {
      const { taken, ended } = await this.store.scheduleFailed(this.clock(), receivers * 10, this.random);
      await this.afterCommit('publishing ended deliveries', () => sendInChunks(this.producer, eventMessages(ended)));
      if (taken < receivers * 10) break;
    }
    let sent = 0;
    for (let claims = 0; claims < MAX_CLAIMS_PER_POLL; claims++) {
      const { batches, ended } = await this.store.claimDue(this.clock(), this.settings.resendLeaseMs, receivers);
      await this.afterCommit('producing resend batches', () =>
        sendInChunks(this.producer, [...batches.map((batch) => resendRecords(batch)), ...eventMessages(ended)]),
      );
      for (const batch of batches) {
        this.batches.inc({ channel: batch.channel });
        this.resent.inc({ channel: batch.channel }, batch.jobs.length);
        sent += batch.jobs.length;
      }
      // A claim may find fewer receivers than it asked for while more are due: it looks at a bounded
      // number of due rows, and a receiver can have many. Only a claim that found nothing ends the round.
      if (batches.length === 0 && ended.length === 0) break;
    }
    return sent;
  }

  /** What a committed claim or schedule produces is tried again in place: its events exist nowhere else (D18). */
  private afterCommit(step: string, run: () => Promise<void>): Promise<void> {
    return afterCommit(step, run, this.logger, this.retry);
  }
}
