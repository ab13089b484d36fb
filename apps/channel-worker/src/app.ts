import type { INestApplication } from '@nestjs/common';
import type { ChannelWorkerConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { ChannelWorkerModule } from './channel-worker.module';

export function startChannelWorker(config: ChannelWorkerConfig, logger: AppLogger): Promise<INestApplication> {
  return startHttpApp(ChannelWorkerModule.register(config, logger), { port: config.httpPort, logger });
}
