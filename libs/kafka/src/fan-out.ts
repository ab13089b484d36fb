import { CompressionTypes, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { deliverTopic, Topics, type DeliveryJob, type OutcomeEvent } from '@notify/contracts';
import { cutDownDeadLetterMessage, deadLetterMessage, deadLetterTopic, ORIGINAL_KEY_BYTES, type Rejection } from './dead-letter';
import { MAX_CHUNK_MESSAGES, sendInChunks } from './send-in-chunks';

/** Delivery jobs grouped by their channel's topic, keyed by user id so one user's deliveries stay in order. */
export function deliveryMessages(jobs: DeliveryJob[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const job of jobs) {
    const topic = deliverTopic(job.channel);
    const messages = byTopic.get(topic) ?? [];
    messages.push({ key: job.userId ?? job.requestId, value: JSON.stringify(job) });
    byTopic.set(topic, messages);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * Produces delivery jobs, then events, serializing the jobs one produce call's worth at a time: every
 * job carries its message's `data` (up to 64 KiB), so a broadcast's jobs as JSON all at once could
 * take gigabytes where their objects, sharing one `data`, take little.
 */
export async function sendJobs(producer: Producer, jobs: DeliveryJob[], events: OutcomeEvent[] = []): Promise<void> {
  for (let first = 0; first < jobs.length || first === 0; first += MAX_CHUNK_MESSAGES) {
    const last = first + MAX_CHUNK_MESSAGES >= jobs.length;
    await sendInChunks(producer, [...deliveryMessages(jobs.slice(first, first + MAX_CHUNK_MESSAGES)), ...(last ? eventMessages(events) : [])]);
  }
}

/** Outcome events for notify.events, keyed by user id. */
export function eventMessages(events: OutcomeEvent[]): TopicMessages[] {
  if (events.length === 0) return [];
  return [{ topic: Topics.events, messages: events.map((event) => ({ key: event.userId ?? event.messageId, value: JSON.stringify(event) })) }];
}

/** Rejected records for the dead-letter topic of the topic they came from. */
export function deadLetterMessages(rejections: Rejection[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const rejection of rejections) {
    const topic = deadLetterTopic(rejection.record.topic);
    const messages = byTopic.get(topic) ?? [];
    messages.push(deadLetterMessage(rejection));
    byTopic.set(topic, messages);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * Produces rejected records to their dead-letter topics, gzip-compressed. A record that arrived
 * compressed can be larger than the broker takes uncompressed (a 3 MB request, refused as too large),
 * and an incompressible one just under the broker's limit is over it with the error headers added:
 * a copy refused as too large would fail the batch every time it was retried and stop the partition.
 * So the copies of a produce call refused as too large go again one by one, and a copy refused on
 * its own goes without its value (`cutDownDeadLetterMessage`), and then without its key as well. Dead-letter topics are created with
 * room for full copies (`ensureTopics`); this is for those that were not.
 */
export async function sendDeadLetters(producer: Producer, rejections: Rejection[]): Promise<void> {
  if (rejections.length === 0) return;
  const compression = CompressionTypes.GZIP;
  const sendAlone = (topic: string, message: Message) => producer.send({ topic, messages: [message], compression });
  await sendInChunks(producer, deadLetterMessages(rejections), {
    compression,
    onRefused: async (chunk, error) => {
      if (!isTooLarge(error)) throw error;
      for (const { topic, messages } of chunk) {
        for (const message of messages) {
          await sendAlone(topic, message).catch((alone: unknown) => {
            if (!isTooLarge(alone)) throw alone;
            const cutDown = cutDownDeadLetterMessage(message);
            // A key alone over the topic's limit: the copy goes without it too, or it would stop the partition.
            return sendAlone(topic, cutDown).catch((still: unknown) => {
              if (!isTooLarge(still)) throw still;
              return sendAlone(topic, withoutKey(cutDown));
            });
          });
        }
      }
    },
  });
}

/** A cut-down copy without its key either, saying how long the key was (`x-original-key-bytes`). */
function withoutKey(copy: Message): Message {
  const bytes = copy.key === null || copy.key === undefined ? 0 : Buffer.byteLength(copy.key);
  return { ...copy, key: null, headers: { ...copy.headers, [ORIGINAL_KEY_BYTES]: String(bytes) } };
}

/** Whether kafkajs's error, or one it wraps, is the broker refusing a record or batch as too large. */
function isTooLarge(error: unknown): boolean {
  for (let e = error as { type?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') return true;
    if (e.cause === e) break;
  }
  return false;
}
