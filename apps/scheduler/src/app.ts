import type { INestApplication } from '@nestjs/common';
import type { SchedulerConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { SchedulerModule } from './scheduler.module';

export function startScheduler(config: SchedulerConfig, logger: AppLogger): Promise<INestApplication> {
  return startHttpApp(SchedulerModule.register(config, logger), { port: config.httpPort, logger });
}
