import { CompressionTypes, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { deliverTopic, Topics, type DeliveryJob, type OutcomeEvent } from '@notify/contracts';
import { deadLetterMessage, deadLetterTopic, type Rejection } from './dead-letter';
import { sendInChunks } from './send-in-chunks';

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
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), deadLetterMessage(rejection)]);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * Produces rejected records to their dead-letter topics, gzip-compressed. A record that arrived
 * compressed can be larger than the broker takes uncompressed (a 3 MB request, refused as too large):
 * its copy, refused in turn, would fail the batch every time it was retried and stop the partition.
 */
export async function sendDeadLetters(producer: Producer, rejections: Rejection[]): Promise<void> {
  if (rejections.length > 0) await sendInChunks(producer, deadLetterMessages(rejections), { compression: CompressionTypes.GZIP });
}
