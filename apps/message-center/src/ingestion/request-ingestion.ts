import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kafka, type Producer } from 'kafkajs';
import { ErrorCode, Topics, type NotificationRequest } from '@notify/contracts';
import {
  BatchConsumer,
  sendDeadLetters,
  deliveryMessages,
  eventMessages,
  FATAL_ERROR_HANDLER,
  KAFKA_PRODUCER,
  type ConsumedRecord,
  type FatalErrorHandler,
  type Rejection,
  sendInChunks,
} from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { IngestStore, newId, RecipientStore, writeIsolatingRefusals, type PlannedMessage } from '@notify/persistence';
import type { Counter } from 'prom-client';
import { planMessage, TemplateRenderError } from '../planning/message-planner';
import { namedRecipients } from '../planning/targets';
import { RouteTable, type Route } from '../routing/route-table';
import { parseRequestRecord, sendAtProblem } from './request-parser';

export interface IngestionSettings {
  consumerGroup: string;
  maxBatchBytes: number;
  retentionDays: number;
}
export const INGESTION_SETTINGS = Symbol('INGESTION_SETTINGS');
export const CLOCK = Symbol('CLOCK');
export type Clock = () => Date;

/**
 * Consumes notify.requests per batch: validate, resolve recipients, route and render, store in one
 * transaction, then fan out to the channel topics, notify.events and the DLQ in one produce call,
 * and only then commit the offsets.
 */
@Injectable()
export class RequestIngestion implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumer: BatchConsumer;
  private readonly stored: Counter;
  private readonly rejected: Counter;

  constructor(
    kafka: Kafka,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    private readonly store: IngestStore,
    private readonly recipients: RecipientStore,
    private readonly routes: RouteTable,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(INGESTION_SETTINGS) private readonly settings: IngestionSettings,
    @Inject(FATAL_ERROR_HANDLER) onFatal: FatalErrorHandler,
    @Inject(CLOCK) private readonly clock: Clock,
    metrics: Metrics,
  ) {
    this.stored = metrics.counter('notify_requests_stored_total', 'Requests stored for the first time');
    this.rejected = metrics.counter('notify_requests_rejected_total', 'Requests sent to the DLQ', ['code']);
    this.consumer = new BatchConsumer(kafka, {
      groupId: settings.consumerGroup,
      maxBytesPerPartition: settings.maxBatchBytes,
      topics: [Topics.requests],
      logger,
      onFatal,
      handler: (records) => this.ingest(records),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer.stop();
  }

  private async ingest(records: ConsumedRecord[]): Promise<void> {
    const now = this.clock();
    const valid = new Map<string, { request: NotificationRequest; route: Route; record: ConsumedRecord }>();
    const rejections: Rejection[] = [];
    for (const record of records) {
      const parsed = parseRequestRecord(record, this.routes);
      const tooLate = parsed.ok ? sendAtProblem(parsed.request, parsed.route, now, this.settings.retentionDays) : undefined;
      if (!parsed.ok) rejections.push(parsed.rejection);
      else if (tooLate) rejections.push({ record, code: ErrorCode.SchemaViolation, reason: tooLate });
      else if (!valid.has(parsed.request.id)) valid.set(parsed.request.id, { ...parsed, record });
    }
    const { userIds, topics } = namedRecipients([...valid.values()].map((v) => v.request));
    const directory = await this.recipients.lookup(userIds, topics);
    const context = { now, newId, directory };
    const planned: PlannedMessage[] = [];
    for (const { request, route, record } of valid.values()) {
      try {
        planned.push(planMessage(request, route, context));
      } catch (error) {
        if (!(error instanceof TemplateRenderError)) throw error;
        rejections.push({ record, code: ErrorCode.TemplateError, reason: error.message });
      }
    }
    const { written, refused } = await writeIsolatingRefusals((batch) => this.store.ingest(batch), planned);
    for (const { item, sqlState } of refused) rejections.push(storageRefusal(valid.get(item.requestId)!.record, sqlState));
    const jobs = written.flatMap((w) => w.jobs);
    const events = written.flatMap((w) => w.events);
    const stored = written.reduce((sum, w) => sum + w.stored, 0);
    await sendInChunks(this.producer, [...deliveryMessages(jobs), ...eventMessages(events)]);
    await sendDeadLetters(this.producer, rejections);
    this.stored.inc(stored);
    for (const { code, reason, record } of rejections) {
      this.rejected.inc({ code });
      this.logger.warn({ code, reason, partition: record.partition, offset: record.offset }, 'request sent to the DLQ');
    }
  }
}

/** The SQLSTATE, never PostgreSQL's message: that can quote the value, which may be personal data. */
export function storageRefusal(record: ConsumedRecord, sqlState: string): Rejection {
  return { record, code: ErrorCode.StorageRefused, reason: `PostgreSQL refused to store the record (SQLSTATE ${sqlState})` };
}
