import { Module, type DynamicModule } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ClickLinks, deliverTopic, Topics } from '@notify/contracts';
import type { ChannelWorkerConfig } from '@notify/config';
import { deadLetterTopic, FATAL_ERROR_HANDLER, KafkaModule, type FatalErrorHandler } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { ChannelDeliveryStore, PersistenceModule, PushDeviceStore, RecipientStore } from '@notify/persistence';
import { ChannelWorkers, WORKER_CLOCK, WORKER_SETTINGS } from './delivery/channel-workers';
import { DeliveryReport } from './delivery/delivery-report';
import { ChannelProviders } from './providers/channel-providers';
import { ReceiptsController } from './receipts/receipts.controller';
import { ChannelSenders } from './senders/channel-senders';

export interface ChannelWorkerOptions {
  onFatal: FatalErrorHandler;
  /** The time expiry and retry times go by; tests set it. */
  clock?: () => Date;
}

/** Consumers of notify.deliver.{push,sms,email} (those configured), their provider adapters, health and metrics. */
@Module({})
export class ChannelWorkerModule {
  static register(config: ChannelWorkerConfig, logger: AppLogger, options: ChannelWorkerOptions): DynamicModule {
    const deliverTopics = config.channels.map(deliverTopic);
    return {
      module: ChannelWorkerModule,
      controllers: [ReceiptsController],
      imports: [
        ObservabilityModule.forApp('channel-worker', logger),
        PersistenceModule.forRoot({ ...config, applicationName: 'channel-worker' }),
        KafkaModule.forRoot({
          clientId: 'channel-worker',
          connection: config,
          topics: [...deliverTopics, ...deliverTopics.map(deadLetterTopic), Topics.events],
          partitions: config.kafkaTopicPartitions,
          replicationFactor: config.kafkaReplicationFactor,
        }),
      ],
      providers: [
        { provide: WORKER_SETTINGS, useValue: config },
        { provide: WORKER_CLOCK, useValue: options.clock ?? (() => new Date()) },
        { provide: FATAL_ERROR_HANDLER, useValue: options.onFatal },
        {
          provide: ChannelProviders,
          useFactory: () => {
            const providers = new ChannelProviders(config, { log: logger.child({ component: 'provider' }) });
            const logged = providers.loggedOnly();
            if (logged.length > 0) {
              logger.warn({ channels: logged }, `${logged.join(', ')}: the log driver, which writes each message to this log and records it sent; set the provider's driver (SMS_DRIVER, EMAIL_DRIVER, PUSH_<VENDOR>_DRIVER) to send`);
            }
            return providers;
          },
        },
        { provide: ChannelDeliveryStore, useFactory: (ds: DataSource) => new ChannelDeliveryStore(ds), inject: [DataSource] },
        { provide: PushDeviceStore, useFactory: (ds: DataSource) => new PushDeviceStore(ds), inject: [DataSource] },
        {
          provide: ChannelSenders,
          useFactory: (providers: ChannelProviders, devices: PushDeviceStore, ds: DataSource) => new ChannelSenders(providers, devices, new RecipientStore(ds), config.concurrency, config.receiptsToken, ClickLinks.of(config)),
          inject: [ChannelProviders, PushDeviceStore, DataSource],
        },
        DeliveryReport,
        ChannelWorkers,
      ],
    };
  }
}
