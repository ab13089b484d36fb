import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, afterCommit, DeliveryOutcomeStore, type AfterCommitRetry, type DeliveryOutcome } from '@notify/persistence';
import { EventPublisher } from './event-publisher';

const FLUSH_AFTER_MS = 25;

const FLUSH_AT = 500;

/**
 * The most acknowledgements one write takes. What came in while a write ran (or was tried again
 * through a database restart) goes in the next writes, this many at a time: one write per 25 ms of
 * acknowledgements, each waiting its turn, made a queue that grew whenever a write took longer, and
 * after a minute's restart its last groups were recorded after their leases had run out.
 */
const MOST_PER_WRITE = FLUSH_AT;

/**
 * Once shutting down, a failed write is tried again this often instead of after its backoff (up to
 * 5 s), for this long from then, however many tries it made before: the process has only the
 * publisher's drain time (20 s) left, and a write asleep in its backoff through a short database
 * restart was never tried again.
 */
const HURRIED_RETRY_MS = 250;
const HURRIED_FOR_MS = 20_000;

/**
 * How a group's write is tried again: for 90 s from its first try, as the default's 8 tries span,
 * but at most 5 s apart. With the default's waits doubling to 30 s, a write asleep through the end
 * of a database restart of a minute came after the deliveries' leases had run out: the resend
 * poller had taken them for unanswered, and the fallback pushed messages the browser had stored.
 */
export const ACKNOWLEDGEMENT_RECORD_RETRY: AfterCommitRetry = { ...AFTER_COMMIT_RETRY, maxBackoffMs: 5_000, forMs: 90_000 };

/**
 * Acknowledgements arrive one by one; this gathers them and writes each group in one statement
 * (with its events staged in the outbox, in the same transaction),
 * tried again in place (`afterCommit`), then hands the resulting events to the `EventPublisher`.
 * Groups are written one after another, in order; a broker away holds up only the events, never the
 * writes (waiting on it, acknowledgements went unrecorded until their leases ran out, and their
 * messages were sent again).
 */
@Injectable()
export class OutcomeRecorder implements OnApplicationShutdown {
  private pending: DeliveryOutcome[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Whether a write waits for the ones before it: it takes whatever is pending when its turn comes. */
  private writeQueued = false;
  /** When the shutdown began (by the retry policy's clock), if it has. */
  private hurriedAt: number | undefined;
  private readonly clock: () => number;
  private readonly wakeUps = new Set<() => void>();
  private readonly writeRetry: AfterCommitRetry;

  constructor(
    private readonly store: DeliveryOutcomeStore,
    private readonly publisher: EventPublisher,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Optional() retry: AfterCommitRetry = ACKNOWLEDGEMENT_RECORD_RETRY,
  ) {
    this.clock = retry.now ?? Date.now;
    const hurriedAt = (): number | undefined => this.hurriedAt;
    this.writeRetry = {
      ...retry,
      get until() {
        const since = hurriedAt();
        return since === undefined ? retry.until : since + HURRIED_FOR_MS;
      },
      get forMs() {
        return hurriedAt() === undefined ? retry.forMs : undefined;
      },
      get maxBackoffMs() {
        return hurriedAt() === undefined ? retry.maxBackoffMs : HURRIED_RETRY_MS;
      },
      // Shutting down, the waits are already short (`maxBackoffMs`); a longer one under way is woken.
      sleep: (ms) => (this.hurriedAt !== undefined ? retry.sleep(ms) : this.wakeable(retry.sleep(ms))),
    };
  }

  add(outcome: DeliveryOutcome): void {
    this.pending.push(outcome);
    // A write waiting for its turn takes this one too.
    if (this.writeQueued) return;
    if (this.pending.length >= FLUSH_AT) this.flushSoon(0);
    else this.flushSoon(FLUSH_AFTER_MS);
  }

  /**
   * Writes what is pending once the writes before are done, with what comes in meanwhile; resolves
   * when everything added so far is stored.
   */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.writeQueued) {
      this.writeQueued = true;
      this.flushing = this.flushing.then(() => {
        this.writeQueued = false;
        return this.writePending();
      });
    }
    return this.flushing;
  }

  /**
   * After the sockets are closed (`RealtimeServer.beforeApplicationShutdown`), so the last
   * acknowledgements are in; before the producer and the database are closed. The last write, and
   * the publishing of every stored outcome's and read's events, are waited for here, within the
   * publisher's time for shutting down.
   */
  async onApplicationShutdown(): Promise<void> {
    this.hurriedAt = this.clock();
    for (const wake of this.wakeUps) wake();
    void this.publisher.track(this.flush(), 'recording acknowledgements');
    await this.publisher.settled();
  }

  /** A backoff's sleep that a shutdown cuts short. */
  private async wakeable(sleep: Promise<void>): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.wakeUps.add(wake);
    try {
      await Promise.race([sleep, woken]);
    } finally {
      this.wakeUps.delete(wake);
    }
  }

  private flushSoon(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), delayMs);
  }

  private async writePending(): Promise<void> {
    while (this.pending.length > 0) await this.write(this.pending.splice(0, MOST_PER_WRITE));
  }

  private async write(outcomes: DeliveryOutcome[]): Promise<void> {
    try {
      const recorded = afterCommit('recording acknowledgements', () => this.store.record(outcomes), this.logger, this.writeRetry);
      await this.publisher.track(recorded, 'recording acknowledgements', (events) => events);
    } catch (error) {
      // The deliveries stay `sent`; the resend poller treats an unconfirmed send as not delivered.
      this.logger.error({ err: error, count: outcomes.length }, 'could not record delivery outcomes');
    }
  }
}
