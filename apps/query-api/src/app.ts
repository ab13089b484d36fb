import type { INestApplication } from '@nestjs/common';
import type { QueryApiConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { QueryApiModule } from './query-api.module';

export function startQueryApi(config: QueryApiConfig, logger: AppLogger): Promise<INestApplication> {
  return startHttpApp(QueryApiModule.register(config, logger), { port: config.httpPort, logger });
}
