import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CLICK_PATH, type ClickLinks } from '@notify/contracts';
import { DeliveryOutcomeStore } from '@notify/persistence';
import { EventPublisher } from '../delivery/event-publisher';
import { CLICK_LINKS } from './click-links';

/**
 * Tracked links (contract §6): `GET /c/{token}` records that the delivery was clicked (its event
 * goes out once, for the first click) and redirects to where the message leads. A token this
 * installation did not sign is unknown (404); a delivery no longer kept, or without a link, is gone (410).
 */
@Controller(CLICK_PATH.slice(1))
export class ClickController {
  constructor(
    @Inject(CLICK_LINKS) private readonly links: ClickLinks | null,
    private readonly store: DeliveryOutcomeStore,
    private readonly publisher: EventPublisher,
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
    const click = await this.publisher.track(this.store.click(deliveryId, record), 'recording a click', (clicked) => (clicked?.event ? [clicked.event] : []));
    if (!click) {
      response.status(410).type('text/plain').send('this link has expired');
      return;
    }
    response.setHeader('Cache-Control', 'no-store');
    response.redirect(302, click.target);
  }
}
