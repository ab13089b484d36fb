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
  return (await readRecords(topic, key, 1))[0]!;
}

/** Reads a topic from the start until `count` records with the key have turned up; returns them in order. */
export async function readRecords(topic: string, key: string, count: number): Promise<DeadLetter[]> {
  const consumer = testKafka().consumer({ groupId: uniqueId('e2e-read') });
  const found: DeadLetter[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.key?.toString() === key) found.push({ value: message.value!.toString(), headers: headerStrings(message.headers) });
    },
  });
  try {
    await eventually(async () => found.length, (n) => n >= count);
    return found;
  } finally {
    await consumer.disconnect();
  }
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)]));
}
