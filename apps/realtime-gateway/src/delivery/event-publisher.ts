import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { OutcomeEvent } from '@notify/contracts';
import { KAFKA_PRODUCER, MAX_CHUNK_MESSAGES, publishOutcomes } from '@notify/kafka';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, afterCommit, eventsPublished, type AfterCommitRetry } from '@notify/persistence';

export interface EventPublisherLimits {
  /** Events held while the broker is away, the produce in flight included; what comes beyond them is dropped. */
  maxHeld: number;
  /** How long shutting down waits for the writes still running and for the events still held. */
  drainTimeoutMs: number;
  /** At most one log line per this long about events dropped for want of room; the rest are counted into the next. */
  dropLogEveryMs: number;
}
/** The limits the gateway runs with: no module provides others, so Nest passes none (`@Optional()`); specs give small ones. */
export const DEFAULT_EVENT_PUBLISHER_LIMITS: EventPublisherLimits = { maxHeld: 100_000, drainTimeoutMs: 20_000, dropLogEveryMs: 10_000 };

/**
 * Publishes the events of stored outcomes (acknowledgements, reads) on notify.events behind the
 * writes that stored them, so a broker away never holds up a write to PostgreSQL: the writes go on,
 * and their events wait here. One produce at a time, of one produce call's worth of events (so a
 * retry repeats at most that many), tried again in place (`afterCommit`). Holding at most `maxHeld`
 * events keeps a long outage from taking the memory. An event beyond them, one whose produce failed
 * every try, and one still held when shutting down has waited `drainTimeoutMs` is logged with its
 * count and left to the outbox relay, which publishes it later (architecture D18).
 */
@Injectable()
export class EventPublisher {
  /** Events waiting, in chunks of one produce call at most, oldest first. */
  private readonly chunks: OutcomeEvent[][] = [];
  private held = 0;
  private running: Promise<void> | undefined;
  /** Published events leaving the outbox, one DELETE after another (`eventsPublished` never fails). */
  private clearing: Promise<void> = Promise.resolve();
  /** Writes whose events are not handed over yet (`track`); shutting down waits for them too. */
  private readonly writes = new Set<Promise<void>>();
  private dropped = new Map<string, number>();
  private droppedLoggedAt = -Infinity;

  constructor(
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Optional() private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
    @Optional() private readonly limits: EventPublisherLimits = DEFAULT_EVENT_PUBLISHER_LIMITS,
  ) {
    if (!(limits.maxHeld >= 1)) throw new Error(`EventPublisher: maxHeld must be at least 1, not ${limits.maxHeld}`);
  }

  /** Hands events over for publishing; returns at once. */
  publish(events: OutcomeEvent[], what: string): void {
    const room = Math.max(0, this.limits.maxHeld - this.held);
    if (events.length > room) this.drop(events.length - room, what);
    const taken = events.length > room ? events.slice(0, room) : events;
    for (const event of taken) {
      // The last chunk still waits (the one in flight has left the queue): small handovers share a produce.
      const last = this.chunks.at(-1);
      if (last && last.length < MAX_CHUNK_MESSAGES) last.push(event);
      else this.chunks.push([event]);
    }
    this.held += taken.length;
    if (this.held > 0) this.running ??= this.drain();
  }

  /**
   * Runs a write and hands over the events `eventsOf` finds in its result as soon as it has stored
   * them; `settled` waits for the write until then. Returns the write's result.
   */
  track<T>(write: Promise<T>, what: string, eventsOf: (result: T) => OutcomeEvent[] = () => []): Promise<T> {
    const handedOver: Promise<void> = write
      .then(
        (result) => this.publish(eventsOf(result), what),
        () => undefined,
      )
      .finally(() => this.writes.delete(handedOver));
    this.writes.add(handedOver);
    return write;
  }

  /** Resolves when every tracked write has ended and every event handed over is published or given up, or after `timeoutMs`. */
  async settled(timeoutMs = this.limits.drainTimeoutMs): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      while (this.writes.size > 0 || this.running) {
        if ((await Promise.race([Promise.allSettled([...this.writes, this.running]), timeout])) === 'timeout') {
          this.logger.error({ count: this.held, writes: this.writes.size }, 'shutting down with events not yet published on notify.events');
          return;
        }
      }
      // What was published leaves the outbox before the database closes, or the relay would publish it again.
      if ((await Promise.race([this.clearing, timeout])) === 'timeout') {
        this.logger.warn('shutting down before published events left the outbox: the relay will publish them again');
      }
    } finally {
      clearTimeout(timer);
      this.reportDrops(true);
    }
  }

  private drop(count: number, what: string): void {
    this.dropped.set(what, (this.dropped.get(what) ?? 0) + count);
    this.reportDrops(false);
  }

  /** Logs the events dropped since the last line, at most once per `dropLogEveryMs` unless `now`. */
  private reportDrops(now: boolean): void {
    if (this.dropped.size === 0) return;
    if (!now && Date.now() - this.droppedLoggedAt < this.limits.dropLogEveryMs) return;
    const bySource = Object.fromEntries(this.dropped);
    const count = [...this.dropped.values()].reduce((sum, n) => sum + n, 0);
    this.logger.error({ count, bySource, held: this.held }, `outcome events dropped: ${this.limits.maxHeld} already wait for the broker`);
    this.dropped = new Map();
    this.droppedLoggedAt = Date.now();
  }

  private async drain(): Promise<void> {
    try {
      for (let events = this.chunks.shift(); events; events = this.chunks.shift()) {
        try {
          await afterCommit('publishing outcome events', () => publishOutcomes(this.producer, events!), this.logger, this.retry);
          // Out of the outbox behind the produces, not between them: a slow DELETE never holds up publishing.
          const published = events;
          this.clearing = this.clearing.then(() => eventsPublished(published, this.logger));
        } catch (error) {
          this.logger.error({ err: error, count: events.length }, 'stored outcomes could not be published on notify.events');
        } finally {
          this.held -= events.length;
        }
      }
    } finally {
      this.running = undefined;
      this.reportDrops(true);
    }
  }
}
