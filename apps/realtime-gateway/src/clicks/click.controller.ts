import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import { BulkheadRejectedError } from 'cockatiel';
import type { Request, Response } from 'express';
import { CLICK_PATH, type ClickLinks } from '@notify/contracts';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { DeliveryOutcomeStore } from '@notify/persistence';
import { EventPublisher } from '../delivery/event-publisher';
import { CLICK_LINKS } from './click-links';
import { ClickWrites } from './click-writes';

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
 * At most `clicksAtOnce` are written at once and `CLICKS_WAITING_PER_WRITER` times as many wait (`ClickWrites`); a click past them is answered
 * 503 with `Retry-After` (`BUSY_PAGE`) without touching the database: each waiting in pg's pool
 * instead held up the claims and acknowledgements behind it, their acknowledgements landing after
 * their leases, and the gateway's memory grew with the requests waiting.
 */
@Controller(CLICK_PATH.slice(1))
export class ClickController {
  /** Set while clicks are being refused: the warning is logged once a spell, not once a click. */
  private refusing = false;

  constructor(
    @Inject(CLICK_LINKS) private readonly links: ClickLinks | null,
    private readonly store: DeliveryOutcomeStore,
    private readonly publisher: EventPublisher,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    private readonly writes: ClickWrites,
  ) {}

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
        this.writes.run(() => this.store.click(deliveryId, record)),
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
    if (!this.refusing) this.logger.warn({ atOnce: this.writes.atOnce, waiting: this.writes.waiting }, 'clicks answered 503: their share of the database pool is in use and its waiting list full; later ones are not logged until a click gets through');
    this.refusing = true;
    response.status(503).setHeader('Retry-After', String(CLICK_RETRY_AFTER_S)).setHeader('Cache-Control', 'no-store').type('text/html').send(BUSY_PAGE);
  }
}
