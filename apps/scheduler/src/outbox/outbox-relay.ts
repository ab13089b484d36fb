import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { eventMessages, KAFKA_PRODUCER, sendInChunks } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { relayStagedEvents } from '@notify/persistence';
import type { Counter } from 'prom-client';
import { PollLoop } from '../poll-loop';

export interface OutboxRelaySettings {
  pollIntervalMs: number;
  /** How long a staged row is left to the app that stored it. */
  outboxRelayAfterMs: number;
}
export const OUTBOX_RELAY_SETTINGS = Symbol('OUTBOX_RELAY_SETTINGS');

/** Outbox rows published per transaction. A row is one write's events (up to a few thousand). */
const ROWS_PER_RELAY = 20;

/**
 * Publishes the outcome events their writers left in the outbox (architecture D18): a gateway,
 * channel worker or scheduler killed between storing outcomes and publishing their events, or one
 * that gave up on an absent broker, leaves its rows there, and after `outboxRelayAfterMs` they are
 * published from here, then deleted, in one transaction per `ROWS_PER_RELAY` rows (several
 * schedulers skip each other's rows). An event can so be published twice, never not at all.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop: PollLoop;
  private readonly relayed: Counter;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(OUTBOX_RELAY_SETTINGS) private readonly settings: OutboxRelaySettings,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    metrics: Metrics,
  ) {
    this.relayed = metrics.counter('notify_outbox_events_relayed_total', 'Outcome events published by the relay because the app that stored them did not');
    this.loop = new PollLoop(async () => (await this.relay(), false), settings.pollIntervalMs, {
      onError: (err) => this.logger.error({ err }, 'outbox relay failed'),
    });
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** Publishes every row left long enough, a transaction at a time, or until the app shuts down; returns how many events. */
  async relay(): Promise<number> {
    let total = 0;
    while (!this.loop.stopping) {
      const count = await relayStagedEvents(this.dataSource, this.settings.outboxRelayAfterMs, ROWS_PER_RELAY, (events) =>
        sendInChunks(this.producer, eventMessages(events)),
      );
      if (count === 0) break;
      total += count;
      this.relayed.inc(count);
    }
    if (total > 0) this.logger.warn({ count: total }, 'published outcome events their writer left in the outbox');
    return total;
  }
}
