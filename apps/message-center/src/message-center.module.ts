import { Module, type DynamicModule } from '@nestjs/common';
import { CHANNELS, deliverTopic, Topics } from '@notify/contracts';
import type { MessageCenterConfig } from '@notify/config';
import { FATAL_ERROR_HANDLER, KafkaModule, type FatalErrorHandler } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { PersistenceModule } from '@notify/persistence';
import { INGESTION_SETTINGS, RequestIngestion } from './ingestion/request-ingestion';
import { RouteTable } from './routing/route-table';

export const MESSAGE_CENTER_TOPICS = [
  Topics.requests,
  Topics.requestsDlq,
  Topics.recipients,
  Topics.recipientsDlq,
  Topics.events,
  ...CHANNELS.map(deliverTopic),
];

@Module({})
export class MessageCenterModule {
  static register(config: MessageCenterConfig, logger: AppLogger, onFatal: FatalErrorHandler): DynamicModule {
    return {
      module: MessageCenterModule,
      imports: [
        ObservabilityModule.forApp('message-center', logger),
        PersistenceModule.forRoot({ ...config, applicationName: 'message-center' }),
        KafkaModule.forRoot({
          clientId: 'message-center',
          connection: config,
          topics: MESSAGE_CENTER_TOPICS,
          partitions: config.kafkaTopicPartitions,
          replicationFactor: config.kafkaReplicationFactor,
        }),
      ],
      providers: [
        { provide: RouteTable, useValue: RouteTable.load(config.routesFile) },
        { provide: INGESTION_SETTINGS, useValue: config },
        { provide: FATAL_ERROR_HANDLER, useValue: onFatal },
        RequestIngestion,
      ],
    };
  }
}
