import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kafka, type Producer } from 'kafkajs';
import { DeliveryJobSchema, ErrorCode, Topics, type DeliveryJob } from '@notify/contracts';
import {
  BatchConsumer,
  FATAL_ERROR_HANDLER,
  KAFKA_PRODUCER,
  publishOutcomes,
  type ConsumedRecord,
  type FatalErrorHandler,
} from '@notify/kafka';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { DeliveryOutcomeStore } from '@notify/persistence';
import { RealtimeServer, type EmitOutcome } from '../realtime/realtime-server';
import { OutcomeRecorder } from './outcome-recorder';

export const GATEWAY_GROUP = Symbol('GATEWAY_GROUP');

/**
 * Consumes notify.deliver.websocket per batch: claims the batch's deliveries in one statement
 * (so a replayed job is not sent twice), commits the offsets, and emits each message to its
 * user's room. Acknowledgements are recorded as they arrive, in batches.
 */
@Injectable()
export class WebsocketDelivery implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumer: BatchConsumer;

  constructor(
    kafka: Kafka,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    private readonly store: DeliveryOutcomeStore,
    private readonly realtime: RealtimeServer,
    private readonly outcomes: OutcomeRecorder,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(GATEWAY_GROUP) groupId: string,
    @Inject(FATAL_ERROR_HANDLER) onFatal: FatalErrorHandler,
  ) {
    this.consumer = new BatchConsumer(kafka, {
      groupId,
      topics: [Topics.deliver.websocket],
      logger,
      onFatal,
      handler: (records) => this.deliver(records),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer.stop();
  }

  private async deliver(records: ConsumedRecord[]): Promise<void> {
    const jobs = records.flatMap((record) => this.parse(record));
    const claimed = await this.store.claim(jobs.map((job) => job.deliveryId));
    await publishOutcomes(this.producer, claimed);
    const claimedIds = new Set(claimed.map((event) => event.deliveryId));
    for (const job of jobs) {
      if (!claimedIds.has(job.deliveryId) || !job.userId || job.message.seq === null) continue;
      const { userId, deliveryId } = job;
      void this.realtime
        .emitNotification(userId, { ...job.message, seq: job.message.seq })
        .then((outcome) => this.outcomes.add({ deliveryId, ...statusOf(outcome) }));
    }
  }

  private parse(record: ConsumedRecord): DeliveryJob[] {
    try {
      return [DeliveryJobSchema.parse(JSON.parse(record.value?.toString('utf8') ?? ''))];
    } catch (error) {
      this.logger.error({ err: error, partition: record.partition, offset: record.offset }, 'skipping an invalid delivery job');
      return [];
    }
  }
}

function statusOf(outcome: EmitOutcome): { status: 'delivered' | 'failed'; error: string | null } {
  switch (outcome) {
    case 'acknowledged':
      return { status: 'delivered', error: null };
    case 'offline':
      return { status: 'failed', error: ErrorCode.Offline };
    case 'ack_timeout':
      return { status: 'failed', error: ErrorCode.AckTimeout };
  }
}
