import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ChannelWorkerConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { ChannelWorkerModule, type ChannelWorkerOptions } from './channel-worker.module';

export type { ChannelWorkerOptions } from './channel-worker.module';

/**
 * The largest receipt request taken. A bounce may return the whole mail even when asked for its
 * headers, and a digest of 200,000 characters in CJK is about 1.6 MB with its HTML part; Push Kit's
 * older receipts merge up to 1,000 statuses, about 260 KB, past body-parser's 100 KB default.
 */
const MAX_RECEIPT_BYTES = '4mb';

export function startChannelWorker(config: ChannelWorkerConfig, logger: AppLogger, options: ChannelWorkerOptions): Promise<INestApplication> {
  return startHttpApp(ChannelWorkerModule.register(config, logger, options), {
    port: config.httpPort,
    logger,
    beforeListen: (app) => {
      const express = app as NestExpressApplication;
      express.useBodyParser('json', { limit: MAX_RECEIPT_BYTES });
      express.useBodyParser('urlencoded', { limit: MAX_RECEIPT_BYTES, extended: true });
      // Bounces come as the mail itself (`POST /receipts/smtp`), which the JSON and form parsers leave unread.
      express.useBodyParser('text', { type: ['message/rfc822', 'text/plain'], limit: MAX_RECEIPT_BYTES });
      return Promise.resolve();
    },
  });
}
