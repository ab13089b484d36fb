import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kafka, type Producer } from 'kafkajs';
import {
  EMPTY_VALUE,
  ErrorCode,
  NOT_UTF8,
  problemsReason,
  readRecipientUpdateText,
  Topics,
  type RecipientUpdate,
  utf8Text,
} from '@notify/contracts';
import {
  BatchConsumer,
  sendDeadLetters,
  FATAL_ERROR_HANDLER,
  KAFKA_PRODUCER,
  type ConsumedRecord,
  type FatalErrorHandler,
  type Rejection,
} from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { RecipientStore, writeIsolatingRefusals } from '@notify/persistence';
import { INGESTION_SETTINGS, storageRefusal, type IngestionSettings } from '../ingestion/request-ingestion';

/** Consumes notify.recipients per batch into the recipient tables; invalid updates go to notify.recipients.dlq. */
@Injectable()
export class RecipientIngestion implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumer: BatchConsumer;

  constructor(
    kafka: Kafka,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    private readonly store: RecipientStore,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(INGESTION_SETTINGS) settings: IngestionSettings,
    @Inject(FATAL_ERROR_HANDLER) onFatal: FatalErrorHandler,
    metrics: Metrics,
  ) {
    this.consumer = new BatchConsumer(kafka, {
      groupId: `${settings.consumerGroup}.recipients`,
      topics: [Topics.recipients],
      // A batch never goes on alone here: one user's updates apply in the order they arrive, and a
      // batch still running when a rebalance gave its partition to another member could commit after
      // that member's newer one (an unsubscribe undone). Recipient batches are short. One that outlives
      // its member's place in the group all the same (a database stalled past the rebalance timeout)
      // rolls back: its transaction asks whether it still holds the partition once its writes are done
      // (only a commit itself stalled that long still lands late).
      detachAfterMs: Number.POSITIVE_INFINITY,
      logger,
      metrics,
      onFatal,
      handler: (records, _progress, holdsPartition) => this.apply(records, holdsPartition),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer.stop();
  }

  private async apply(records: ConsumedRecord[], holdsPartition: () => Promise<void>): Promise<void> {
    const updates: { update: RecipientUpdate; record: ConsumedRecord }[] = [];
    const rejections: Rejection[] = [];
    for (const record of records) {
      const parsed = parseUpdate(record);
      if ('update' in parsed) updates.push({ update: parsed.update, record });
      else rejections.push(parsed);
    }
    const now = Date.now();
    const { refused } = await writeIsolatingRefusals((batch) => this.store.apply(batch.map((u) => u.update), batch.map((u) => madeAt(u.record, now)), holdsPartition), updates);
    for (const { item, sqlState } of refused) rejections.push(storageRefusal(item.record, sqlState));
    if (rejections.length > 0) {
      await sendDeadLetters(this.producer, rejections);
      for (const { code, record } of rejections) {
        this.logger.warn({ code, partition: record.partition, offset: record.offset }, 'recipient update sent to the DLQ');
      }
    }
  }
}

/**
 * How far ahead of this host's clock a record's time is still taken as it is: more than hosts kept
 * by NTP drift apart, little enough that a registration made through the query API (timed by its
 * own clock) soon after one stamped ahead is not taken for the older.
 */
export const RECORD_TIME_AHEAD_TOLERANCE_MS = 30_000;

/**
 * When an update was made: its record's time (a push token goes to its newest registration, also
 * when an older one is applied later). The same record gives the same time however late it is
 * applied again (a replayed batch must not make an old registration the newest and take the token
 * back from the user who registered it since), so a time a little ahead of this host's clock is
 * taken as it is. One further ahead is taken as now: a producer whose clock runs minutes ahead
 * cannot keep a token from the registrations after it.
 */
export function madeAt(record: Pick<ConsumedRecord, 'timestamp'>, now: number): Date {
  const time = Number(record.timestamp);
  if (!Number.isFinite(time) || time <= 0) return new Date(now);
  return new Date(time - now > RECORD_TIME_AHEAD_TOLERANCE_MS ? now : time);
}

/** One record of notify.recipients as an update, or the reason it goes to the DLQ. */
export function parseUpdate(record: ConsumedRecord): { update: RecipientUpdate } | Rejection {
  // A null value (a tombstone) or an empty one: the reason notify.requests gives, not JSON.parse's "ends too early".
  if (!record.value || record.value.length === 0) return { record, code: ErrorCode.InvalidJson, reason: EMPTY_VALUE };
  const text = utf8Text(record.value);
  if (text === undefined) return { record, code: ErrorCode.InvalidJson, reason: NOT_UTF8 };
  const reading = readRecipientUpdateText(text);
  return reading.ok ? { update: reading.value } : { record, code: reading.code, reason: problemsReason(reading.problems) };
}
