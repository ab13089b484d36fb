import { Module, type DynamicModule } from '@nestjs/common';
import { CHANNELS, deliverTopic, Topics } from '@notify/contracts';
import type { SchedulerConfig } from '@notify/config';
import { KafkaModule } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { PersistenceModule } from '@notify/persistence';

/** The scheduler's shell: its topics, database and health. The resend poller arrives with its own issue. */
@Module({})
export class SchedulerModule {
  static register(config: SchedulerConfig, logger: AppLogger): DynamicModule {
    return {
      module: SchedulerModule,
      imports: [
        ObservabilityModule.forApp('scheduler', logger),
        PersistenceModule.forRoot({ ...config, applicationName: 'scheduler' }),
        KafkaModule.forRoot({
          clientId: 'scheduler',
          connection: config,
          topics: [...CHANNELS.map(deliverTopic), Topics.events],
          partitions: config.kafkaTopicPartitions,
          replicationFactor: config.kafkaReplicationFactor,
        }),
      ],
    };
  }
}
