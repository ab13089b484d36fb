import 'reflect-metadata';
import { loadMessageCenterConfig } from '@notify/config';
import { runMain } from '@notify/observability';
import { startMessageCenter } from './app';

runMain('message-center', loadMessageCenterConfig, async (config, logger, onFatal) => {
  const app = await startMessageCenter(config, logger, { onFatal });
  logger.info({ port: config.httpPort }, 'message center started');
  return app;
});
