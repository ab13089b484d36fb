import type { Message, TopicMessages } from 'kafkajs';
import { deliverTopic, Topics, type DeliveryJob, type OutcomeEvent } from '@notify/contracts';
import { deadLetterMessage, deadLetterTopic, type Rejection } from './dead-letter';

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
