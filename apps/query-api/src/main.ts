import 'reflect-metadata';
import { loadQueryApiConfig } from '@notify/config';
import { runMain } from '@notify/observability';
import { startQueryApi } from './app';

runMain('query-api', loadQueryApiConfig, async (config, logger) => {
  const app = await startQueryApi(config, logger);
  logger.info({ httpPort: config.httpPort, grpcPort: config.grpcPort }, 'query API started');
  return app;
});
