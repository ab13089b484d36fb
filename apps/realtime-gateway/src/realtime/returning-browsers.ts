import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { ReturningReceiversStore } from '@notify/persistence';

/** How long a connection's user waits for the users connecting after it: one statement takes them all. */
export const RETURNING_FLUSH_AFTER_MS = 200;

/**
 * The most users one statement takes: at once when this many wait. After a gateway's restart its
 * 19,000 browsers come back within seconds, to the gateways that remain or to its successor.
 */
export const MOST_RETURNING_PER_WRITE = 1_000;

/**
 * The most users waiting (distinct) while a statement runs or the database is away; a user past
 * them keeps the backoff of its deliveries, as before. Their ids are all this holds.
 */
export const MOST_RETURNING_WAITING = 20 * MOST_RETURNING_PER_WRITE;

/**
 * Makes the browser deliveries waiting for a retry due as their users connect (`ReturningReceiversStore`):
 * the browser module syncs on connecting and shows them, but only an acknowledgement makes them
 * `delivered`, and left to their backoff (up to an hour) the route's next tier went out meanwhile, an
 * SMS for a message on the screen. Due now, the resend poller sends them within its interval as one
 * `notifications` batch, which the browser acknowledges at once, and the tiers above are cancelled.
 * Every connection counts, a second device's too (it acknowledges as well); the users that connect
 * within `RETURNING_FLUSH_AFTER_MS` of each other go in one statement, one statement at a time, as
 * the acknowledgements do (`OutcomeRecorder`). A statement that fails is logged and not tried again:
 * its users' deliveries keep their backoff.
 */
@Injectable()
export class ReturningBrowsers implements OnApplicationShutdown {
  private readonly waiting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** The statement under way, if one is: the users that connect meanwhile wait for the next. */
  private writing: Promise<void> | undefined;
  /** Users left out since the last statement, the waiting ones being `MOST_RETURNING_WAITING` already. */
  private leftOut = 0;
  private stopped = false;

  constructor(
    private readonly store: ReturningReceiversStore,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {}

  /** A browser of `userId` has connected. */
  connected(userId: string): void {
    if (this.stopped) return;
    if (this.waiting.size >= MOST_RETURNING_WAITING && !this.waiting.has(userId)) {
      this.leftOut += 1;
      return;
    }
    this.waiting.add(userId);
    if (!this.writing) this.writeSoon();
  }

  /**
   * After the realtime server has closed its connections (`beforeApplicationShutdown`), before the
   * database is closed: the statement under way is waited for, and the users still waiting are
   * dropped. Their browsers reconnect to another gateway, which makes their deliveries due.
   */
  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.waiting.clear();
    await this.writing;
  }

  /** Writes after `RETURNING_FLUSH_AFTER_MS`, or at once when a statement's worth of users wait. */
  private writeSoon(): void {
    const delayMs = this.waiting.size >= MOST_RETURNING_PER_WRITE ? 0 : RETURNING_FLUSH_AFTER_MS;
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.write().finally(() => {
        this.writing = undefined;
        if (this.waiting.size > 0 && !this.stopped) this.writeSoon();
      });
    }, delayMs);
  }

  private async write(): Promise<void> {
    const userIds = this.take(MOST_RETURNING_PER_WRITE);
    if (this.leftOut > 0) {
      this.logger.warn({ users: this.leftOut, waiting: MOST_RETURNING_WAITING }, 'browsers connected while too many users waited: their deliveries waiting for a retry keep their backoff');
      this.leftOut = 0;
    }
    try {
      await this.store.makeDue(userIds);
    } catch (error) {
      this.logger.error({ err: error, users: userIds.length }, 'could not make the deliveries of connected browsers due: they keep their backoff');
    }
  }

  /** Up to `count` of the waiting users, taken out of the waiting ones. */
  private take(count: number): string[] {
    const taken: string[] = [];
    for (const userId of this.waiting) {
      if (taken.length === count) break;
      taken.push(userId);
    }
    for (const userId of taken) this.waiting.delete(userId);
    return taken;
  }
}
