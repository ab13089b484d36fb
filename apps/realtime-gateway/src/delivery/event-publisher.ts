import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { OutcomeEvent } from '@notify/contracts';
import { KAFKA_PRODUCER, publishOutcomes } from '@notify/kafka';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, AFTER_COMMIT_RETRY_POLICY, afterCommit, type AfterCommitRetry } from '@notify/persistence';

export interface EventPublisherLimits {
  /** Events held while the broker is away; what comes beyond them is logged and dropped. */
  maxWaiting: number;
  /** How long shutting down waits for the events still held. */
  drainTimeoutMs: number;
}
export const EVENT_PUBLISHER_LIMITS = Symbol('EVENT_PUBLISHER_LIMITS');
export const DEFAULT_EVENT_PUBLISHER_LIMITS: EventPublisherLimits = { maxWaiting: 100_000, drainTimeoutMs: 10_000 };

/**
 * Publishes the events of stored outcomes (acknowledgements, reads) on notify.events behind the
 * writes that stored them, so a broker away never holds up a write to PostgreSQL: the writes go on,
 * and their events wait here. One produce at a time, of every event waiting, tried again in place
 * (`afterCommit`). Holding at most `maxWaiting` events keeps a long outage from taking the memory;
 * an event beyond them, or one whose produce failed every try, is logged with its count and lost to
 * notify.events (its outcome is stored: architecture D18).
 */
@Injectable()
export class EventPublisher {
  private waiting: OutcomeEvent[] = [];
  private running: Promise<void> | undefined;

  constructor(
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Optional() @Inject(AFTER_COMMIT_RETRY_POLICY) private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
    @Optional() @Inject(EVENT_PUBLISHER_LIMITS) private readonly limits: EventPublisherLimits = DEFAULT_EVENT_PUBLISHER_LIMITS,
  ) {}

  /** Hands events over for publishing; returns at once. */
  publish(events: OutcomeEvent[], what: string): void {
    if (events.length === 0) return;
    const room = Math.max(0, this.limits.maxWaiting - this.waiting.length);
    if (events.length > room) {
      this.logger.error({ count: events.length - room, waiting: this.waiting.length }, `${what}: events dropped, ${this.limits.maxWaiting} already wait for the broker`);
    }
    this.waiting = this.waiting.concat(room < events.length ? events.slice(0, room) : events);
    this.running ??= this.drain();
  }

  /** Resolves when every event handed over so far is published or given up, or after `timeoutMs`. */
  async settled(timeoutMs = this.limits.drainTimeoutMs): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      while (this.running) {
        if ((await Promise.race([this.running, timeout])) === 'timeout') {
          this.logger.error({ count: this.waiting.length }, 'shutting down with events not yet published on notify.events');
          return;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const events = this.waiting;
        this.waiting = [];
        try {
          await afterCommit('publishing outcome events', () => publishOutcomes(this.producer, events), this.logger, this.retry);
        } catch (error) {
          this.logger.error({ err: error, count: events.length }, 'stored outcomes could not be published on notify.events');
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
