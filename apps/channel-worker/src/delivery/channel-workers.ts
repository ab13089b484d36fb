import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kafka, type Producer } from 'kafkajs';
import type { ChannelWorkerConfig, WorkerChannel } from '@notify/config';
import { ClickLinks } from '@notify/contracts';
import { FATAL_ERROR_HANDLER, KAFKA_PRODUCER, type FatalErrorHandler } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { ChannelDeliveryStore, DeliveryOutcomeStore } from '@notify/persistence';
import { ChannelProviders } from '../providers/channel-providers';
import { receiptKeyOfSend } from '../receipts/receipt-keys';
import { ChannelSenders } from '../senders/channel-senders';
import { ChannelDelivery } from './channel-delivery';
import { DeliveryReport } from './delivery-report';

export const WORKER_SETTINGS = Symbol('WORKER_SETTINGS');
export const WORKER_CLOCK = Symbol('WORKER_CLOCK');

/** One consumer per channel this process runs, each in its own consumer group, started and stopped together. */
@Injectable()
export class ChannelWorkers implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly deliveries: ChannelDelivery[];

  constructor(
    kafka: Kafka,
    @Inject(KAFKA_PRODUCER) producer: Producer,
    claims: DeliveryOutcomeStore,
    outcomes: ChannelDeliveryStore,
    senders: ChannelSenders,
    private readonly providers: ChannelProviders,
    report: DeliveryReport,
    @Inject(WORKER_SETTINGS) config: ChannelWorkerConfig,
    @Inject(WORKER_CLOCK) clock: () => Date,
    @Inject(APP_LOGGER) logger: AppLogger,
    @Inject(FATAL_ERROR_HANDLER) onFatal: FatalErrorHandler,
    metrics: Metrics,
  ) {
    const groups: Record<WorkerChannel, string> = { push: config.pushGroup, sms: config.smsGroup, email: config.emailGroup };
    this.deliveries = config.channels.map(
      (channel) =>
        new ChannelDelivery(
          kafka,
          { channel, groupId: groups[channel], maxBatchBytes: config.maxBatchBytes, timing: config },
          {
            sender: senders.senderFor(channel),
            claims,
            outcomes,
            producer,
            report,
            clock,
            logger: logger.child({ channel }),
            metrics,
            links: ClickLinks.of(config),
            receiptKeyOf: (attempt) => receiptKeyOfSend(attempt, (provider) => providers.receiptSender(provider) !== undefined),
          },
          onFatal,
        ),
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    await Promise.all(this.deliveries.map((delivery) => delivery.start()));
  }

  /** The sends already made are recorded; those not begun are given back, due at once (`stopSending`). */
  async onModuleDestroy(): Promise<void> {
    this.providers.stopSending();
    await Promise.all(this.deliveries.map((delivery) => delivery.stop()));
  }
}
