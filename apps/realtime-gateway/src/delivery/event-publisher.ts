import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { OutcomeEvent } from '@notify/contracts';
import { KAFKA_PRODUCER, MAX_CHUNK_MESSAGES, publishOutcomes } from '@notify/kafka';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, AFTER_COMMIT_RETRY_POLICY, afterCommit, type AfterCommitRetry } from '@notify/persistence';

export interface EventPublisherLimits {
  /** Events held while the broker is away, the produce in flight included; what comes beyond them is dropped. */
  maxHeld: number;
  /** How long shutting down waits for the events still held. */
  drainTimeoutMs: number;
  /** At most one log line per this long about events dropped for want of room (with their count since the last). */
  dropLogEveryMs: number;
}
export const EVENT_PUBLISHER_LIMITS = Symbol('EVENT_PUBLISHER_LIMITS');
export const DEFAULT_EVENT_PUBLISHER_LIMITS: EventPublisherLimits = { maxHeld: 100_000, drainTimeoutMs: 20_000, dropLogEveryMs: 10_000 };

/**
 * Publishes the events of stored outcomes (acknowledgements, reads) on notify.events behind the
 * writes that stored them, so a broker away never holds up a write to PostgreSQL: the writes go on,
 * and their events wait here. One produce at a time, of up to one produce call's worth of the events
 * waiting (so a retry repeats at most that many), tried again in place (`afterCommit`). Holding at
 * most `maxHeld` events keeps a long outage from taking the memory. An event beyond them, one whose
 * produce failed every try, and one still held when shutting down has waited `drainTimeoutMs` is
 * logged with its count and lost to notify.events; its outcome is stored (architecture D18).
 */
@Injectable()
export class EventPublisher {
  private waiting: OutcomeEvent[] = [];
  private inFlight = 0;
  private running: Promise<void> | undefined;
  /** Writes whose events are still to be handed over (`track`); shutting down waits for them too. */
  private readonly writes = new Set<Promise<unknown>>();
  private dropped = 0;
  private droppedLoggedAt = -Infinity;

  constructor(
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Optional() @Inject(AFTER_COMMIT_RETRY_POLICY) private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
    @Optional() @Inject(EVENT_PUBLISHER_LIMITS) private readonly limits: EventPublisherLimits = DEFAULT_EVENT_PUBLISHER_LIMITS,
  ) {
    if (!(limits.maxHeld >= 1)) throw new Error(`EventPublisher: maxHeld must be at least 1, not ${limits.maxHeld}`);
  }

  /** Hands events over for publishing; returns at once. */
  publish(events: OutcomeEvent[], what: string): void {
    const room = Math.max(0, this.limits.maxHeld - this.waiting.length - this.inFlight);
    if (events.length > room) this.drop(events.length - room, what);
    const taken = events.length > room ? events.slice(0, room) : events;
    if (taken.length === 0) return;
    this.waiting = this.waiting.concat(taken);
    this.running ??= this.drain();
  }

  /** Runs a write whose events will be handed over when it ends; `settled` waits for it. */
  track<T>(write: Promise<T>): Promise<T> {
    this.writes.add(write);
    const forget = (): void => void this.writes.delete(write);
    write.then(forget, forget);
    return write;
  }

  /** Resolves when every tracked write has ended and every event handed over is published or given up, or after `timeoutMs`. */
  async settled(timeoutMs = this.limits.drainTimeoutMs): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      while (this.writes.size > 0 || this.running) {
        const pending = Promise.allSettled([...this.writes, this.running]);
        if ((await Promise.race([pending, timeout])) === 'timeout') {
          this.logger.error({ count: this.waiting.length + this.inFlight }, 'shutting down with events not yet published on notify.events');
          return;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private drop(count: number, what: string): void {
    this.dropped += count;
    const now = Date.now();
    if (now - this.droppedLoggedAt < this.limits.dropLogEveryMs) return;
    this.logger.error({ count: this.dropped, held: this.waiting.length + this.inFlight }, `${what}: events dropped, ${this.limits.maxHeld} already wait for the broker`);
    this.dropped = 0;
    this.droppedLoggedAt = now;
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const events = this.waiting.slice(0, MAX_CHUNK_MESSAGES);
        this.waiting = this.waiting.slice(events.length);
        this.inFlight = events.length;
        try {
          await afterCommit('publishing outcome events', () => publishOutcomes(this.producer, events), this.logger, this.retry);
        } catch (error) {
          this.logger.error({ err: error, count: events.length }, 'stored outcomes could not be published on notify.events');
        } finally {
          this.inFlight = 0;
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
