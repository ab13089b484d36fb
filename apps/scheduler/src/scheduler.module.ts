import { Module, type DynamicModule } from '@nestjs/common';
import { CHANNELS, deliverTopic, Topics } from '@notify/contracts';
import type { SchedulerConfig } from '@notify/config';
import { KafkaModule } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { PersistenceModule } from '@notify/persistence';
import { RELEASE_SETTINGS, ReleasePoller, SCHEDULER_CLOCK } from './release/release-poller';

export interface SchedulerOptions {
  /** The time release decisions go by; tests move it. */
  clock?: () => Date;
}

@Module({})
export class SchedulerModule {
  static register(config: SchedulerConfig, logger: AppLogger, options: SchedulerOptions = {}): DynamicModule {
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
      providers: [
        { provide: RELEASE_SETTINGS, useValue: config },
        { provide: SCHEDULER_CLOCK, useValue: options.clock ?? (() => new Date()) },
        ReleasePoller,
      ],
      exports: [ReleasePoller],
    };
  }
}
