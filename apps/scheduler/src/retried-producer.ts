import type { Producer, ProducerBatch } from 'kafkajs';
import type { OutcomeEvent } from '@notify/contracts';
import { eventMessages, sendInChunks } from '@notify/kafka';
import type { AppLogger } from '@notify/observability';
import { afterCommit, eventsPublished, type AfterCommitRetry } from '@notify/persistence';

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

/**
 * Publishes events a committed write staged in the outbox (through a `retriedProducer`), then clears
 * them from it. Events that cannot be published stay there for the outbox relay, and the poll goes
 * on: failing it when notify.events refused them stopped every resend and release, and after 10
 * minutes restarted the scheduler again and again, while the delivery topics took jobs.
 */
export async function publishStaged(producer: Producer, step: string, events: OutcomeEvent[], logger: AppLogger): Promise<void> {
  if (events.length === 0) return;
  try {
    await sendInChunks(producer, eventMessages(events));
  } catch (error) {
    logger.error({ err: error, events: events.length }, `${step} failed; the outbox relay publishes them`);
    return;
  }
  await eventsPublished(events, logger);
}
