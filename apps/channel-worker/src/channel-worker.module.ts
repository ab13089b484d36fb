import { Module, type DynamicModule } from '@nestjs/common';
import { Topics } from '@notify/contracts';
import type { ChannelWorkerConfig } from '@notify/config';
import { KafkaModule } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { PersistenceModule } from '@notify/persistence';

/** The channel worker's shell: its topics, database and health. The provider adapters arrive with the channel issue. */
@Module({})
export class ChannelWorkerModule {
  static register(config: ChannelWorkerConfig, logger: AppLogger): DynamicModule {
    return {
      module: ChannelWorkerModule,
      imports: [
        ObservabilityModule.forApp('channel-worker', logger),
        PersistenceModule.forRoot({ ...config, applicationName: 'channel-worker' }),
        KafkaModule.forRoot({
          clientId: 'channel-worker',
          connection: config,
          topics: [Topics.deliver.push, Topics.deliver.sms, Topics.deliver.email, Topics.events],
          partitions: config.kafkaTopicPartitions,
          replicationFactor: config.kafkaReplicationFactor,
        }),
      ],
    };
  }
}
