import { Controller, Get, Inject, Param, Post, Res } from '@nestjs/common';
import { BulkheadRejectedError } from 'cockatiel';
import type { Response } from 'express';
import { UNSUBSCRIBE_PATH, type ClickLinks } from '@notify/contracts';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { RecipientStore } from '@notify/persistence';
import { CLICK_LINKS } from './click-links';
import { CLICK_RETRY_AFTER_S } from './click.controller';
import { ClickWrites } from './click-writes';

/**
 * One-click unsubscribe (contract §6, RFC 8058), the link of a mail sent to a topic:
 * `POST /u/{token}` (a mail client's, with `List-Unsubscribe=One-Click`, or the button's below)
 * applies contract §2's `unsubscribe` of the user from the topic, as the query API's `Unsubscribe`
 * does, and answers 200, never a redirect. `GET` only shows the button: mail scanners and link
 * checkers fetch links, and must not unsubscribe anyone. A token this installation did not sign,
 * a click link's included, is 404. The write takes its turn in the clicks' share of the pool (`ClickWrites`).
 */
@Controller(UNSUBSCRIBE_PATH.slice(1))
export class UnsubscribeController {
  constructor(
    @Inject(CLICK_LINKS) private readonly links: ClickLinks | null,
    private readonly recipients: RecipientStore,
    private readonly writes: ClickWrites,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {}

  @Get(':token')
  ask(@Param('token') token: string, @Res() response: Response): void {
    const subscription = this.links?.subscriptionOf(token);
    if (!subscription) {
      response.status(404).type('text/plain').send('unknown link');
      return;
    }
    // The form posts to this same address, so nothing of it is written into the page but the topic.
    response
      .setHeader('Cache-Control', 'no-store')
      .type('text/html')
      .send(
        `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Unsubscribe</title>` +
          `<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
          `<p>Stop these emails (${escapeHtml(subscription.topic)})?</p><button type="submit">Unsubscribe</button></form>\n`,
      );
  }

  @Post(':token')
  async unsubscribe(@Param('token') token: string, @Res() response: Response): Promise<void> {
    const subscription = this.links?.subscriptionOf(token);
    if (!subscription) {
      response.status(404).type('text/plain').send('unknown link');
      return;
    }
    try {
      await this.writes.run(() => this.recipients.apply([{ op: 'unsubscribe', ...subscription }]));
    } catch (error) {
      if (!(error instanceof BulkheadRejectedError)) throw error;
      response.status(503).setHeader('Retry-After', String(CLICK_RETRY_AFTER_S)).setHeader('Cache-Control', 'no-store').type('text/plain').send('busy: try again in a moment\n');
      return;
    }
    // As the query API logs its Recipients writes: the audit trail of what to redo after a database restore.
    this.logger.info({ audit: 'recipients', method: 'OneClickUnsubscribe', userId: subscription.userId, topic: subscription.topic }, 'recipients write: OneClickUnsubscribe');
    response.status(200).setHeader('Cache-Control', 'no-store').type('text/plain').send('You are unsubscribed.\n');
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
