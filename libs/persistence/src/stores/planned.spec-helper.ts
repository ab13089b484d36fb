import { newId } from '../ids';
import type { PlannedDelivery, PlannedMessage } from './ingest.store';

/** A queued websocket delivery to u-1 of a message planned at `createdAt`, with what a test changes. */
export function plannedDelivery(createdAt: Date, overrides: Partial<PlannedDelivery> = {}): PlannedDelivery {
  return {
    id: newId(createdAt),
    userId: 'u-1',
    channel: 'websocket',
    endpoint: 'inbox:u-1',
    locale: 'en',
    tier: 0,
    status: 'queued',
    lastError: null,
    nextAttemptAt: null,
    ...overrides,
  };
}

/** A message planned at `createdAt` as the message center plans one: its queued websocket deliveries get inbox entries. */
export function plannedMessage(requestId: string, createdAt: Date, deliveries: PlannedDelivery[], overrides: Partial<PlannedMessage> = {}): PlannedMessage {
  return {
    id: newId(createdAt),
    requestId,
    type: 'account.note',
    recipient: { userId: 'u-1' },
    data: {},
    locale: null,
    priority: 'normal',
    retry: { maxAttempts: 3, initialBackoffMs: 1_000, maxBackoffMs: 60_000 },
    sendAt: null,
    expiresAt: null,
    createdAt,
    contents: [{ locale: 'en', title: 't', body: 'b' }],
    deliveries,
    inbox: deliveries.filter((d) => d.channel === 'websocket' && d.status === 'queued').map((d) => ({ userId: d.userId!, locale: d.locale })),
    ...overrides,
  };
}
