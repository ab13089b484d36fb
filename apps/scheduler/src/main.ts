import 'reflect-metadata';
import { loadSchedulerConfig } from '@notify/config';
import { runMain } from '@notify/observability';
import { startScheduler } from './app';

runMain('scheduler', loadSchedulerConfig, async (config, logger, onFatal) => {
  const app = await startScheduler(config, logger, { onFatal });
  logger.info({ port: config.httpPort }, 'scheduler started');
  return app;
});
