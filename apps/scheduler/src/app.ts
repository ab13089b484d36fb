import type { INestApplication } from '@nestjs/common';
import type { SchedulerConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { SchedulerModule, type SchedulerOptions } from './scheduler.module';

export { ReleasePoller } from './release/release-poller';
export { ResendPoller } from './resend/resend-poller';

export function startScheduler(config: SchedulerConfig, logger: AppLogger, options: SchedulerOptions = {}): Promise<INestApplication> {
  return startHttpApp(SchedulerModule.register(config, logger, options), { port: config.httpPort, logger });
}
