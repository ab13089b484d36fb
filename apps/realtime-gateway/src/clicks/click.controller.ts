import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import { BulkheadRejectedError, bulkhead, type BulkheadPolicy } from 'cockatiel';
import type { Request, Response } from 'express';
import { DataSource } from 'typeorm';
import { CLICK_PATH, type ClickLinks } from '@notify/contracts';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { DeliveryOutcomeStore, poolOf } from '@notify/persistence';
import { EventPublisher } from '../delivery/event-publisher';
import { CLICK_LINKS } from './click-links';

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

/** How long a click refused for the database's share being taken is told to wait before it asks again (`Retry-After`, seconds). */
export const CLICK_RETRY_AFTER_S = 1;

/**
 * What a refused click answers: a browser does not ask again by itself for a 503, whatever its
 * `Retry-After`, so the page does, after `CLICK_RETRY_AFTER_S` (the same address: the click is
 * recorded and redirected then), and the person who clicked is not left on an error. It names
 * nothing of the link.
 */
const BUSY_PAGE = `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="${CLICK_RETRY_AFTER_S}"><title>One moment</title><p>Busy for a moment: this page opens your link shortly.</p>\n`;

/**
 * Tracked links (contract §6): `GET /c/{token}` records that the delivery was clicked (its event
 * goes out once, for the first click) and redirects to where the message leads. A token this
 * installation did not sign is unknown (404); a delivery no longer kept, or without a link, is gone (410).
 * At most `clicksAtOnce` are written at once and `CLICKS_WAITING_PER_WRITER` times as many wait; a click past them is answered
 * 503 with `Retry-After` (`BUSY_PAGE`) without touching the database: each waiting in pg's pool
 * instead held up the claims and acknowledgements behind it, their acknowledgements landing after
 * their leases, and the gateway's memory grew with the requests waiting.
 */
@Controller(CLICK_PATH.slice(1))
export class ClickController {
  private readonly atOnce: number;
  private readonly writes: BulkheadPolicy;
  /** Set while clicks are being refused: the warning is logged once a spell, not once a click. */
  private refusing = false;

  constructor(
    @Inject(CLICK_LINKS) private readonly links: ClickLinks | null,
    private readonly store: DeliveryOutcomeStore,
    private readonly publisher: EventPublisher,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    dataSource: DataSource,
  ) {
    // The pool's own size (DATABASE_POOL_SIZE), as the pool has it.
    this.atOnce = clicksAtOnce(poolOf(dataSource).options.max ?? 10);
    this.writes = bulkhead(this.atOnce, this.atOnce * CLICKS_WAITING_PER_WRITER);
  }

  @Get(':token')
  async follow(@Param('token') token: string, @Req() request: Request, @Res() response: Response): Promise<void> {
    const deliveryId = this.links?.deliveryOf(token);
    if (!deliveryId) {
      response.status(404).type('text/plain').send('unknown link');
      return;
    }
    // Express answers HEAD with the GET route: a link checker or a mail scanner looking, not a person clicking.
    const record = request.method !== 'HEAD';
    let click: Awaited<ReturnType<DeliveryOutcomeStore['click']>>;
    try {
      click = await this.publisher.track(
        this.writes.execute(() => this.store.click(deliveryId, record)),
        'recording a click',
        (clicked) => (clicked?.event ? [clicked.event] : []),
      );
    } catch (error) {
      if (!(error instanceof BulkheadRejectedError)) throw error;
      this.refuse(response);
      return;
    }
    this.refusing = false;
    if (!click) {
      response.status(410).type('text/plain').send('this link has expired');
      return;
    }
    response.setHeader('Cache-Control', 'no-store');
    response.redirect(302, click.target);
  }

  private refuse(response: Response): void {
    if (!this.refusing) this.logger.warn({ atOnce: this.atOnce, waiting: this.atOnce * CLICKS_WAITING_PER_WRITER }, 'clicks answered 503: their share of the database pool is in use and its waiting list full; later ones are not logged until a click gets through');
    this.refusing = true;
    response.status(503).setHeader('Retry-After', String(CLICK_RETRY_AFTER_S)).setHeader('Cache-Control', 'no-store').type('text/html').send(BUSY_PAGE);
  }
}
