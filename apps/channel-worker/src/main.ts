import 'reflect-metadata';
import { loadChannelWorkerConfig } from '@notify/config';
import { runMain } from '@notify/observability';
import { startChannelWorker } from './app';

runMain('channel-worker', loadChannelWorkerConfig, async (config, logger) => {
  await startChannelWorker(config, logger);
  logger.info({ port: config.httpPort }, 'channel worker started');
});
