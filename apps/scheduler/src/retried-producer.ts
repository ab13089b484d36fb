import type { Producer, ProducerBatch } from 'kafkajs';
import type { AppLogger } from '@notify/observability';
import { afterCommit, type AfterCommitRetry } from '@notify/persistence';

/**
 * The producer with each produce call tried again in place on its own (`afterCommit`), for what a
 * committed claim or release made: its events otherwise wait for the outbox relay (D18). Tried again whole, a
 * produce of several calls sent again every call before the one that failed, and so published
 * their events twice.
 */
export function retriedProducer(producer: Producer, step: string, logger: AppLogger, retry: AfterCommitRetry): Producer {
  const sendBatch = (batch: ProducerBatch) => afterCommit(step, () => producer.sendBatch(batch), logger, retry);
  return { ...producer, sendBatch };
}
