import type { INestApplication } from '@nestjs/common';
import type { MessageCenterConfig } from '@notify/config';
import type { FatalErrorHandler } from '@notify/kafka';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { MessageCenterModule } from './message-center.module';

export function startMessageCenter(config: MessageCenterConfig, logger: AppLogger, onFatal: FatalErrorHandler): Promise<INestApplication> {
  return startHttpApp(MessageCenterModule.register(config, logger, onFatal), { port: config.httpPort, logger });
}
