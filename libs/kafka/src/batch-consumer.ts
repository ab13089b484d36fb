import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { AppLogger } from '@notify/observability';

/** A record of one consumed batch, with what a handler needs to act on it or dead-letter it. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
}

export type BatchHandler = (records: ConsumedRecord[]) => Promise<void>;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  handler: BatchHandler;
  logger: AppLogger;
  /** Called when the consumer has crashed and kafkajs will not restart it; the app should exit non-zero. */
  onFatal: (error: Error) => void;
  maxBytesPerPartition?: number;
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
}

/**
 * Runs a handler per Kafka batch. Offsets are committed only after the handler has resolved,
 * that is after the batch's database transaction has committed: at-least-once, never lost.
 * A handler that throws leaves the offsets alone; kafkajs retries the batch.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private running = false;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      allowAutoTopicCreation: false,
      // A member that died (kill -9) holds its partitions until this runs out.
      sessionTimeout: 15_000,
      heartbeatInterval: 3_000,
      retry: {
        retries: 10,
        restartOnFailure: async (error) => {
          options.logger.error({ err: error }, 'kafka consumer failed; restarting it');
          return true;
        },
      },
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart && this.running) options.onFatal(payload.error);
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning ?? true });
    this.running = true;
    await this.consumer.run({
      // Partitions hold disjoint users, so their batches can be worked on at the same time.
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.consume(payload),
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.consumer.disconnect();
  }

  private async consume({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    const records = batch.messages.map((message) => toRecord(batch.topic, batch.partition, message));
    await this.options.handler(records);
    const last = batch.messages[batch.messages.length - 1]!.offset;
    await this.consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
    ]);
    resolveOffset(last);
    await heartbeat();
  }
}

function toRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: message.headers ?? {},
    timestamp: message.timestamp,
  };
}
