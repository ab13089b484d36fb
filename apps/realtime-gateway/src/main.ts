import 'reflect-metadata';
import { loadRealtimeGatewayConfig } from '@notify/config';
import { runMain } from '@notify/observability';
import { startRealtimeGateway } from './app';

runMain('realtime-gateway', loadRealtimeGatewayConfig, async (config, logger, onFatal) => {
  const app = await startRealtimeGateway(config, logger, onFatal);
  logger.info({ port: config.httpPort }, 'realtime gateway started');
  return app;
});
