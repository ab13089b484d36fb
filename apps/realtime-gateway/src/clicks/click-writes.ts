import { Injectable } from '@nestjs/common';
import { bulkhead, type BulkheadPolicy } from 'cockatiel';
import { DataSource } from 'typeorm';
import { poolOf } from '@notify/persistence';

/**
 * Clicks written at once: a quarter of the database pool, at least one (architecture D21). The
 * clients' own requests have half; the rest stays for the deliveries' claims and acknowledgements,
 * also when a mail scanner fetches every link of a broadcast as it arrives, or one link is hammered.
 */
export function clicksAtOnce(databasePoolSize: number): number {
  return Math.max(1, Math.floor(databasePoolSize / 4));
}

/**
 * Clicks waiting their turn, per click written at once: a burst of a campaign's clicks waits (a
 * waiting click holds its request, not a connection); past them a click is answered 503.
 */
export const CLICKS_WAITING_PER_WRITER = 50;

/**
 * The share of the database pool the gateway's public links write in: tracked links (`GET /c/{token}`)
 * and one-click unsubscribes (`POST /u/{token}`), one share for both, as either comes in bursts with a broadcast.
 * `run` rejects at once with cockatiel's `BulkheadRejectedError` when `atOnce` are writing and `waiting` wait.
 */
@Injectable()
export class ClickWrites {
  readonly atOnce: number;
  readonly waiting: number;
  private readonly share: BulkheadPolicy;

  constructor(dataSource: DataSource) {
    // The pool's own size (DATABASE_POOL_SIZE), as the pool has it.
    this.atOnce = clicksAtOnce(poolOf(dataSource).options.max ?? 10);
    this.waiting = this.atOnce * CLICKS_WAITING_PER_WRITER;
    this.share = bulkhead(this.atOnce, this.waiting);
  }

  run<T>(write: () => Promise<T>): Promise<T> {
    return this.share.execute(write);
  }
}
