import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { eventMessages, KAFKA_PRODUCER, MAX_CHUNK_MESSAGES, sendInChunks } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, relayStagedRow, type AfterCommitRetry } from '@notify/persistence';
import type { OutcomeEvent } from '@notify/contracts';
import type { Counter, Gauge } from 'prom-client';
import { PollLoop } from '../poll-loop';
import { retriedProducer } from '../retried-producer';

export interface OutboxRelaySettings {
  pollIntervalMs: number;
  /** How long a staged row is left to the app that stored it. */
  outboxRelayAfterMs: number;
}
export const OUTBOX_RELAY_SETTINGS = Symbol('OUTBOX_RELAY_SETTINGS');

/**
 * How long the relay holds a row it is publishing, per produce call the row takes
 * (`MAX_CHUNK_MESSAGES` events): longer than one call can be tried in place (`retriedProducer`,
 * about 10 minutes at worst), so another scheduler takes the row only when this one has died.
 */
const RELAY_LEASE = { leaseMs: 12 * 60_000, eventsPerLease: MAX_CHUNK_MESSAGES };

/**
 * Publishes the outcome events their writers left in the outbox (architecture D18): a gateway,
 * channel worker or scheduler killed between storing outcomes and publishing their events, or one
 * that gave up on an absent broker, leaves its rows there, and after `outboxRelayAfterMs` they are
 * published from here and deleted, one row (one write's events) at a time, under a lease so several
 * schedulers share them. An event can so be published twice, never not at all.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop: PollLoop;
  private readonly relayed: Counter;
  private readonly oldest: Gauge;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(OUTBOX_RELAY_SETTINGS) private readonly settings: OutboxRelaySettings,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    metrics: Metrics,
    @Optional() private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
  ) {
    this.relayed = metrics.counter('notify_outbox_events_relayed_total', 'Outcome events published by the relay because the app that stored them did not');
    this.oldest = metrics.gauge(
      'notify_outbox_oldest_event_seconds',
      'Age of the oldest outcome event waiting in the outbox at the last relay poll (0: none); growing past SCHEDULER_OUTBOX_RELAY_AFTER_MS, events are not reaching notify.events',
    );
    this.loop = new PollLoop(async () => (await this.relay(), false), settings.pollIntervalMs, {
      name: 'outbox relay',
      // No give-up: a relay failing only while notify.events refuses produces would restart the resends
      // and releases with it (`publishStaged`); its age gauge shows the backlog.
      onError: (err) => this.logger.error({ err }, 'outbox relay failed'),
    });
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** Publishes every row left long enough, one after another, or until the app shuts down; returns how many events. */
  async relay(): Promise<number> {
    // Before the drain too: a drain that fails (a broker refusing produces) or lasts (a backlog) left
    // the gauge at its last value, mostly 0, and the alert on it silent.
    await this.measureOldest();
    const producer = retriedProducer(this.producer, 'relaying outbox events', this.logger, this.retry);
    const publish = (events: OutcomeEvent[]) => sendInChunks(producer, eventMessages(events));
    let total = 0;
    try {
      while (!this.loop.stopping) {
        const count = await relayStagedRow(this.dataSource, this.settings.outboxRelayAfterMs, RELAY_LEASE, publish);
        if (count === undefined) break;
        total += count;
        this.relayed.inc(count);
      }
    } finally {
      if (total > 0) this.logger.warn({ count: total }, 'published outcome events their writer left in the outbox');
    }
    await this.measureOldest();
    return total;
  }

  /** Sets the gauge to the age of the oldest row waiting. A look that fails is logged, and the relay goes on. */
  private async measureOldest(): Promise<void> {
    try {
      // The index's first entry: a cheap look.
      const [{ age }] = await this.dataSource.query<[{ age: number }]>(
        `SELECT COALESCE(extract(epoch FROM now() - min(staged_at)), 0)::float8 AS age FROM event_outbox`,
      );
      this.oldest.set(age);
    } catch (err) {
      this.logger.warn({ err }, 'could not measure the age of the oldest outbox event');
    }
  }
}
