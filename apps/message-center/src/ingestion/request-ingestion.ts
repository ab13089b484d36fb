import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { deliverTopic, Topics, type DeliveryJob } from '@notify/contracts';
import {
  BatchConsumer,
  deadLetterMessage,
  FATAL_ERROR_HANDLER,
  KAFKA_PRODUCER,
  type ConsumedRecord,
  type FatalErrorHandler,
  type Rejection,
} from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { IngestStore, type AcceptedMessage } from '@notify/persistence';
import type { Counter } from 'prom-client';
import { RouteTable } from '../routing/route-table';
import { parseRequestRecord } from './request-parser';

export interface IngestionSettings {
  consumerGroup: string;
  maxBatchBytes: number;
}
export const INGESTION_SETTINGS = Symbol('INGESTION_SETTINGS');

/**
 * Consumes notify.requests per batch: validate, route, store in one transaction,
 * then fan out to the channel topics and the DLQ, and only then commit the offsets.
 */
@Injectable()
export class RequestIngestion implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumer: BatchConsumer;
  private readonly accepted: Counter;
  private readonly rejected: Counter;

  constructor(
    kafka: Kafka,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    private readonly store: IngestStore,
    private readonly routes: RouteTable,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(INGESTION_SETTINGS) settings: IngestionSettings,
    @Inject(FATAL_ERROR_HANDLER) onFatal: FatalErrorHandler,
    metrics: Metrics,
  ) {
    this.accepted = metrics.counter('notify_requests_accepted_total', 'Requests stored (replays included)');
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
    const accepted = new Map<string, AcceptedMessage>();
    const rejections: Rejection[] = [];
    for (const record of records) {
      const parsed = parseRequestRecord(record, this.routes);
      if (parsed.ok) {
        if (!accepted.has(parsed.message.requestId)) accepted.set(parsed.message.requestId, parsed.message);
      } else {
        rejections.push(parsed.rejection);
      }
    }
    const jobs = await this.store.ingest([...accepted.values()]);
    await this.producer.sendBatch({ topicMessages: [...jobsByTopic(jobs), ...deadLetters(rejections)] });
    this.accepted.inc(accepted.size);
    for (const { code, reason, record } of rejections) {
      this.rejected.inc({ code });
      this.logger.warn({ code, reason, partition: record.partition, offset: record.offset }, 'request sent to the DLQ');
    }
  }
}

function jobsByTopic(jobs: DeliveryJob[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const job of jobs) {
    const topic = deliverTopic(job.channel);
    const messages = byTopic.get(topic) ?? [];
    messages.push({ key: job.userId ?? job.requestId, value: JSON.stringify(job) });
    byTopic.set(topic, messages);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

function deadLetters(rejections: Rejection[]): TopicMessages[] {
  if (rejections.length === 0) return [];
  return [{ topic: Topics.requestsDlq, messages: rejections.map(deadLetterMessage) }];
}
