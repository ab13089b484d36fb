import 'reflect-metadata';
import { loadChannelWorkerConfig } from '@notify/config';
import { runMain } from '@notify/observability';
import { startChannelWorker } from './app';

runMain('channel-worker', loadChannelWorkerConfig, async (config, logger, onFatal) => {
  const app = await startChannelWorker(config, logger, { onFatal });
  logger.info({ port: config.httpPort, channels: config.channels }, 'channel worker started');
  return app;
});
