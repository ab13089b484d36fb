import type { Producer, TopicMessages } from 'kafkajs';
import type { AfterCommitRetry, RecordedOutcome } from '@notify/persistence';

/** A producer whose first `failures` produce calls are refused the way a broker election refuses them; it keeps what it accepted. */
export function flakyProducer(failures: number): { producer: Producer; calls: () => number; accepted: TopicMessages[] } {
  let calls = 0;
  const accepted: TopicMessages[] = [];
  const producer = {
    sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => {
      calls += 1;
      if (calls <= failures) throw Object.assign(new Error('This server is not the leader for that topic-partition'), { type: 'NOT_LEADER_FOR_PARTITION' });
      accepted.push(...topicMessages);
      return [];
    },
  } as unknown as Producer;
  return { producer, calls: () => calls, accepted };
}

/** A producer whose produce calls wait until `open()` (a broker away), then are accepted in order; it keeps what it accepted. */
export function gatedProducer(): { producer: Producer; open: () => void; calls: () => number; accepted: TopicMessages[] } {
  let calls = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const accepted: TopicMessages[] = [];
  const producer = {
    sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => {
      calls += 1;
      await opened;
      accepted.push(...topicMessages);
      return [];
    },
  } as unknown as Producer;
  return { producer, open, calls: () => calls, accepted };
}

/** Tries at once, at most `maxAttempts` times, and keeps the waits it would have made. */
export function instantRetry(maxAttempts: number): AfterCommitRetry & { waits: number[] } {
  const waits: number[] = [];
  return { maxAttempts, initialBackoffMs: 100, maxBackoffMs: 1_000, random: () => 1, sleep: async (ms) => void waits.push(ms), waits };
}

export function outcomeEvent(deliveryId: string, status: RecordedOutcome['status']): RecordedOutcome {
  return {
    deliveryId,
    requestId: `request-${deliveryId}`,
    messageId: `message-${deliveryId}`,
    userId: 'user-1',
    channel: 'websocket',
    status,
    attempt: 1,
    at: '2026-12-04T12:00:00.000Z',
    error: null,
  };
}

/** The events a producer double accepted, as they would be read from notify.events. */
export function publishedEvents(accepted: TopicMessages[]): { topic: string; deliveryId: string; status: string }[] {
  return accepted.flatMap(({ topic, messages }) =>
    messages.map((m) => {
      const event = JSON.parse(String(m.value)) as RecordedOutcome;
      return { topic, deliveryId: event.deliveryId, status: event.status };
    }),
  );
}
