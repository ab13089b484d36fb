import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { eventually } from './eventually';

/**
 * The value of every record on `topic` up to where it ends now, read from its beginning by a
 * consumer group of its own. A shared topic holds other tests' records too: filter by your own ids.
 */
export async function recordsOn(kafka: Kafka, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const unread = new Map(ends.filter((end) => Number(end.high) > Number(end.low)).map((end) => [end.partition, Number(end.high)]));
  const values: string[] = [];
  const consumer = kafka.consumer({ groupId: `records-on-${randomBytes(4).toString('hex')}`, maxBytesPerPartition: 16 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      values.push(message.value!.toString());
      if (Number(message.offset) + 1 >= (unread.get(partition) ?? 0)) unread.delete(partition);
    },
  });
  try {
    await eventually(async () => unread.size, (n) => n === 0);
    return values;
  } finally {
    await consumer.disconnect();
  }
}
