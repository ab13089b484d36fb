import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Producer, TopicMessages } from 'kafkajs';
import { FATAL_ERROR_HANDLER, KAFKA_PRODUCER, sendInChunks, type FatalErrorHandler } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, ResendStore, type AfterCommitRetry } from '@notify/persistence';
import type { OutcomeEvent } from '@notify/contracts';
import type { Counter } from 'prom-client';
import { PollLoop } from '../poll-loop';
import { publishStaged, retriedProducer } from '../retried-producer';
import { resendSlices } from './resend-records';

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
  private readonly loop: PollLoop;
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
    @Optional() private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
    @Optional() @Inject(FATAL_ERROR_HANDLER) onFatal?: FatalErrorHandler,
  ) {
    this.resent = metrics.counter('notify_deliveries_resent_total', 'Deliveries handed to their channel again', ['channel']);
    this.batches = metrics.counter('notify_resend_batches_total', 'Receiver batches re-sent', ['channel']);
    // Again at once when a claim was cut short by its bound of jobs: more is due than a poll takes.
    this.loop = new PollLoop(async () => (await this.round()).behind, settings.pollIntervalMs, {
      name: 'resend',
      onError: (err) => this.logger.error({ err }, 'resend poll failed'),
      onGiveUp: onFatal,
    });
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /**
   * One round: fail the sends whose outcome never came, schedule what newly failed, then claim and
   * send what is due. Returns how many deliveries went out.
   */
  async poll(): Promise<number> {
    return (await this.round()).sent;
  }

  /** A poll, and whether it left due deliveries behind because its last claim was cut short. */
  private async round(): Promise<{ sent: number; behind: boolean }> {
    const receivers = this.settings.resendReceiversPerClaim;
    while (!this.loop.stopping) {
      const lost = await this.store.failUnanswered(this.clock(), receivers * 10);
      await this.publish('publishing lost sends', lost);
      if (lost.length < receivers * 10) break;
    }
    // Bounded like the claims: while failures arrive as fast as they are scheduled, the round still
    // goes on to claim and send; what is left is scheduled by the next poll.
    for (let chunks = 0; chunks < MAX_CLAIMS_PER_POLL && !this.loop.stopping; chunks++) {
      const { taken, ended } = await this.store.scheduleFailed(this.clock(), receivers * 10, this.random);
      await this.publish('publishing ended deliveries', ended);
      if (taken < receivers * 10) break;
    }
    let sent = 0;
    let behind = false;
    for (let claims = 0; claims < MAX_CLAIMS_PER_POLL && !this.loop.stopping; claims++) {
      const { batches, ended, cutShort } = await this.store.claimDue(this.clock(), this.settings.resendLeaseMs, receivers);
      // The events first: otherwise they wait for the outbox relay, while jobs a failing topic refuses come back after their lease.
      await this.publish('publishing ended deliveries', ended);
      // Serialized a slice at a time: the JSON of a whole claim (up to thousands of jobs with their data) never exists at once.
      for (const slice of resendSlices(batches)) await this.produce('producing resend batches', slice);
      for (const batch of batches) {
        this.batches.inc({ channel: batch.channel });
        this.resent.inc({ channel: batch.channel }, batch.jobs.length);
        sent += batch.jobs.length;
      }
      behind = cutShort;
      // A claim may find fewer receivers than it asked for while more are due: it looks at a bounded
      // number of due rows, and a receiver can have many. Only a claim that found nothing ends the round.
      if (batches.length === 0 && ended.length === 0) break;
    }
    return { sent, behind };
  }

  /** Produces what a committed claim or schedule made (`retriedProducer`). */
  private produce(step: string, topicMessages: TopicMessages[]): Promise<void> {
    return sendInChunks(retriedProducer(this.producer, step, this.logger, this.retry), topicMessages);
  }

  /** Publishes events the store staged in the outbox (`publishStaged`). */
  private publish(step: string, events: OutcomeEvent[]): Promise<void> {
    return publishStaged(retriedProducer(this.producer, step, this.logger, this.retry), step, events, this.logger);
  }

}
