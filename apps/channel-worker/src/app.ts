import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ChannelWorkerConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { ChannelWorkerModule, type ChannelWorkerOptions } from './channel-worker.module';

export type { ChannelWorkerOptions } from './channel-worker.module';

/** The largest bounce taken: one returning a whole mail of this platform's (a rendered notification) fits many times over. */
const MAX_BOUNCE_BYTES = '1mb';

export function startChannelWorker(config: ChannelWorkerConfig, logger: AppLogger, options: ChannelWorkerOptions): Promise<INestApplication> {
  return startHttpApp(ChannelWorkerModule.register(config, logger, options), {
    port: config.httpPort,
    logger,
    // Bounces come as the mail itself (`POST /receipts/smtp`), which the JSON and form parsers leave unread.
    beforeListen: (app) => {
      (app as NestExpressApplication).useBodyParser('text', { type: ['message/rfc822', 'text/plain'], limit: MAX_BOUNCE_BYTES });
      return Promise.resolve();
    },
  });
}
