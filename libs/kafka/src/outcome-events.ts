import type { Producer } from 'kafkajs';
import type { OutcomeEvent } from '@notify/contracts';
import { eventMessages } from './fan-out';
import { sendInChunks } from './send-in-chunks';

/** Publishes status changes on notify.events in one produce call, keyed by user id. */
export async function publishOutcomes(producer: Producer, events: OutcomeEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sendInChunks(producer, eventMessages(events));
}
