import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { eventually } from '@notify/testing';
import { sendInChunks } from './send-in-chunks';
import { ensureTopics } from './topics';

const kafka = new Kafka({ clientId: 'chunks-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });

describe('sendInChunks', () => {
  it('hands the broker 3 MiB for one partition, which one produce call could not, in order', async () => {
    const topic = `spec.chunks.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const messages = Array.from({ length: 3_000 }, (_, i) => ({ key: 'same-key', value: `${i}:${'x'.repeat(1_000)}` }));
    await expect(producer.sendBatch({ topicMessages: [{ topic, messages }] })).rejects.toThrow(/larger than the max message size/);

    await sendInChunks(producer, [{ topic, messages }]);
    await producer.disconnect();

    const seen: number[] = [];
    const consumer = kafka.consumer({ groupId: `chunks-${randomBytes(4).toString('hex')}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(Number(message.value!.toString().split(':')[0])) });
    await eventually(async () => seen.length, (n) => n >= 3_000);
    await consumer.disconnect();
    expect(seen).toEqual(messages.map((_, i) => i));
  });
});
