import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { CHANNELS, deliverTopic, Topics } from '@notify/contracts';
import type { SchedulerConfig } from '@notify/config';
import { FATAL_ERROR_HANDLER, KafkaModule, type FatalErrorHandler } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { databaseClockProviders, PersistenceModule } from '@notify/persistence';
import { RELEASE_SETTINGS, ReleasePoller, SCHEDULER_CLOCK } from './release/release-poller';
import { OUTBOX_RELAY_SETTINGS, OutboxRelay } from './outbox/outbox-relay';
import { RESEND_CLOCK, RESEND_RANDOM, RESEND_SETTINGS, ResendPoller } from './resend/resend-poller';

export interface SchedulerOptions {
  /** The time release and resend decisions go by: the database's (`DatabaseClock`), but tests move it. */
  clock?: () => Date;
  /** The jitter source of resend backoff; tests fix it. */
  random?: () => number;
  /** Called when the scheduler cannot go on (its polls have failed for 10 minutes, or one is stuck): the process exits for its supervisor. */
  onFatal?: FatalErrorHandler;
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
        ...clockProviders(options.clock),
        { provide: RESEND_SETTINGS, useValue: config },
        { provide: RESEND_RANDOM, useValue: options.random ?? Math.random },
        { provide: OUTBOX_RELAY_SETTINGS, useValue: config },
        ...(options.onFatal ? [{ provide: FATAL_ERROR_HANDLER, useValue: options.onFatal }] : []),
        ReleasePoller,
        ResendPoller,
        OutboxRelay,
      ],
      exports: [ReleasePoller, ResendPoller, OutboxRelay],
    };
  }
}

/** Both pollers' clock: the one given, or the database's, whose clock the leases they end are written by. */
function clockProviders(clock: (() => Date) | undefined): Provider[] {
  return [...databaseClockProviders(SCHEDULER_CLOCK, clock), { provide: RESEND_CLOCK, useExisting: SCHEDULER_CLOCK }];
}
