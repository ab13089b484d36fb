import type { INestApplication } from '@nestjs/common';
import type { MessageCenterConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { MessageCenterModule, type MessageCenterOptions } from './message-center.module';

export type { MessageCenterOptions } from './message-center.module';

export function startMessageCenter(config: MessageCenterConfig, logger: AppLogger, options: MessageCenterOptions): Promise<INestApplication> {
  return startHttpApp(MessageCenterModule.register(config, logger, options), { port: config.httpPort, logger });
}
