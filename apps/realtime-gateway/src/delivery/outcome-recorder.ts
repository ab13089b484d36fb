import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { OutcomeEvent } from '@notify/contracts';
import { KAFKA_PRODUCER, publishOutcomes } from '@notify/kafka';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, AFTER_COMMIT_RETRY_POLICY, afterCommit, DeliveryOutcomeStore, type AfterCommitRetry, type DeliveryOutcome } from '@notify/persistence';

const FLUSH_AFTER_MS = 25;

const FLUSH_AT = 500;

/**
 * Acknowledgements arrive one by one; this gathers them and writes each group in one
 * statement, then publishes the resulting events in one produce call. Both steps are tried again
 * in place (`afterCommit`), the publish on its own, so a broker election neither loses the events
 * of recorded outcomes nor records them twice. Groups are written one after another, in order.
 */
@Injectable()
export class OutcomeRecorder implements OnModuleDestroy {
  private pending: DeliveryOutcome[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: DeliveryOutcomeStore,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Optional() @Inject(AFTER_COMMIT_RETRY_POLICY) private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
  ) {}

  add(outcome: DeliveryOutcome): void {
    this.pending.push(outcome);
    if (this.pending.length >= FLUSH_AT) this.flushSoon(0);
    else this.flushSoon(FLUSH_AFTER_MS);
  }

  /** Writes what is pending now; resolves when everything added so far is stored. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const outcomes = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(() => this.write(outcomes));
    return this.flushing;
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush();
  }

  private flushSoon(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), delayMs);
  }

  private async write(outcomes: DeliveryOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    let events: OutcomeEvent[];
    try {
      events = await afterCommit('recording acknowledgements', () => this.store.record(outcomes), this.logger, this.retry);
    } catch (error) {
      // The deliveries stay `sent`; the resend poller treats an unconfirmed send as not delivered.
      this.logger.error({ err: error, count: outcomes.length }, 'could not record delivery outcomes');
      return;
    }
    try {
      await afterCommit('publishing outcomes', () => publishOutcomes(this.producer, events), this.logger, this.retry);
    } catch (error) {
      this.logger.error({ err: error, count: events.length }, 'recorded delivery outcomes could not be published on notify.events');
    }
  }
}
