import { Module, type DynamicModule } from '@nestjs/common';
import { Topics } from '@notify/contracts';
import type { RealtimeGatewayConfig } from '@notify/config';
import { FATAL_ERROR_HANDLER, KafkaModule, type FatalErrorHandler } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { PersistenceModule } from '@notify/persistence';
import { TokenVerifier } from './auth/token-verifier';
import { OutcomeRecorder } from './delivery/outcome-recorder';
import { GATEWAY_GROUP, WebsocketDelivery } from './delivery/websocket-delivery';
import { REALTIME_SETTINGS, RealtimeServer } from './realtime/realtime-server';

@Module({})
export class RealtimeGatewayModule {
  static register(config: RealtimeGatewayConfig, logger: AppLogger, onFatal: FatalErrorHandler): DynamicModule {
    return {
      module: RealtimeGatewayModule,
      imports: [
        ObservabilityModule.forApp('realtime-gateway', logger),
        PersistenceModule.forRoot({ ...config, applicationName: 'realtime-gateway' }),
        KafkaModule.forRoot({
          clientId: 'realtime-gateway',
          connection: config,
          topics: [Topics.deliver.websocket, Topics.events],
          partitions: config.kafkaTopicPartitions,
          replicationFactor: config.kafkaReplicationFactor,
        }),
      ],
      providers: [
        { provide: TokenVerifier, useValue: new TokenVerifier(config) },
        { provide: REALTIME_SETTINGS, useValue: config },
        { provide: GATEWAY_GROUP, useValue: config.consumerGroup },
        { provide: FATAL_ERROR_HANDLER, useValue: onFatal },
        RealtimeServer,
        OutcomeRecorder,
        WebsocketDelivery,
      ],
    };
  }
}
