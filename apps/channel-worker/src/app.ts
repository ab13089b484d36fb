import type { INestApplication } from '@nestjs/common';
import type { ChannelWorkerConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { ChannelWorkerModule, type ChannelWorkerOptions } from './channel-worker.module';

export type { ChannelWorkerOptions } from './channel-worker.module';

export function startChannelWorker(config: ChannelWorkerConfig, logger: AppLogger, options: ChannelWorkerOptions): Promise<INestApplication> {
  return startHttpApp(ChannelWorkerModule.register(config, logger, options), { port: config.httpPort, logger });
}
