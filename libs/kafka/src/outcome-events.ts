import type { Producer } from 'kafkajs';
import { Topics, type OutcomeEvent } from '@notify/contracts';

/** Publishes status changes on notify.events in one produce call, keyed by user id. */
export async function publishOutcomes(producer: Producer, events: OutcomeEvent[]): Promise<void> {
  if (events.length === 0) return;
  await producer.send({
    topic: Topics.events,
    messages: events.map((event) => ({ key: event.userId ?? event.messageId, value: JSON.stringify(event) })),
  });
}
