import type { INestApplication } from '@nestjs/common';
import type { RealtimeGatewayConfig } from '@notify/config';
import type { FatalErrorHandler } from '@notify/kafka';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { RealtimeGatewayModule } from './realtime-gateway.module';

export function startRealtimeGateway(config: RealtimeGatewayConfig, logger: AppLogger, onFatal: FatalErrorHandler): Promise<INestApplication> {
  return startHttpApp(RealtimeGatewayModule.register(config, logger, onFatal), { port: config.httpPort, logger });
}

export { ADAPTER_RECONNECTION_MAX_MS, RealtimeServer } from './realtime/realtime-server';
