import { Module, type DynamicModule } from '@nestjs/common';
import { CHANNELS, deliverTopic, Topics } from '@notify/contracts';
import type { MessageCenterConfig } from '@notify/config';
import { FATAL_ERROR_HANDLER, KafkaModule, type FatalErrorHandler } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { databaseClockProviders, PersistenceModule } from '@notify/persistence';
import { FallbackEscalation } from './fallback/fallback-escalation';
import { CLOCK, INGESTION_SETTINGS, RequestIngestion, type Clock } from './ingestion/request-ingestion';
import { PartitionMaintenance, RETENTION_SETTINGS } from './maintenance/partition-maintenance';
import { RecipientIngestion } from './recipients/recipient-ingestion';
import { RouteTable } from './routing/route-table';

export const MESSAGE_CENTER_TOPICS = [
  Topics.requests,
  Topics.requestsDlq,
  Topics.recipients,
  Topics.recipientsDlq,
  Topics.events,
  ...CHANNELS.map(deliverTopic),
];

export interface MessageCenterOptions {
  onFatal: FatalErrorHandler;
  /**
   * The time routing and retention go by: the database's (`DatabaseClock`), which the scheduler
   * releases held deliveries by; tests move it.
   */
  clock?: Clock;
}

@Module({})
export class MessageCenterModule {
  static register(config: MessageCenterConfig, logger: AppLogger, options: MessageCenterOptions): DynamicModule {
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
        { provide: RouteTable, useValue: RouteTable.load(config.routesFile, { retentionDays: config.retentionDays }) },
        { provide: INGESTION_SETTINGS, useValue: config },
        { provide: RETENTION_SETTINGS, useValue: config },
        { provide: FATAL_ERROR_HANDLER, useValue: options.onFatal },
        ...databaseClockProviders(CLOCK, options.clock),
        PartitionMaintenance,
        RequestIngestion,
        RecipientIngestion,
        FallbackEscalation,
      ],
    };
  }
}
