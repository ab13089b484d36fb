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
  return readUntil(topic, key, (found) => found.length >= count);
}

/** Every record with the key the topic holds now: read from the start up to each partition's end as it is when called. */
export async function readAllRecords(topic: string, key: string): Promise<DeadLetter[]> {
  const admin = testKafka().admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const left = new Map(ends.filter((end) => BigInt(end.high) > BigInt(end.low)).map((end) => [end.partition, BigInt(end.high)]));
  return readUntil(topic, key, () => left.size === 0, (partition, offset) => {
    if (left.has(partition) && BigInt(offset) + 1n >= left.get(partition)!) left.delete(partition);
  });
}

async function readUntil(
  topic: string,
  key: string,
  done: (found: DeadLetter[]) => boolean,
  onRecord: (partition: number, offset: string) => void = () => undefined,
): Promise<DeadLetter[]> {
  const consumer = testKafka().consumer({ groupId: uniqueId('e2e-read') });
  const found: DeadLetter[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (message.key?.toString() === key) found.push({ value: message.value!.toString(), headers: headerStrings(message.headers) });
      onRecord(partition, message.offset);
    },
  });
  try {
    await eventually(async () => done(found), (ok) => ok);
    return found;
  } finally {
    await consumer.disconnect();
  }
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)]));
}
