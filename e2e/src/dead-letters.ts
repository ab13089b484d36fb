import type { IHeaders } from 'kafkajs';
import { eventually } from '@notify/testing';
import { testKafka } from './kafka-admin';
import { uniqueId } from './platform';

export interface DeadLetter {
  value: string;
  headers: Record<string, string>;
}

/** Reads a dead-letter topic from the start until a record with the key turns up. */
export async function readDeadLetter(topic: string, key: string): Promise<DeadLetter> {
  const consumer = testKafka().consumer({ groupId: uniqueId('e2e-dlq') });
  const found: DeadLetter[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.key?.toString() === key) found.push({ value: message.value!.toString(), headers: headerStrings(message.headers) });
    },
  });
  try {
    await eventually(async () => found.length, (n) => n > 0);
    return found[0]!;
  } finally {
    await consumer.disconnect();
  }
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)]));
}
