import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopics } from './topics';

const kafka = new Kafka({ clientId: 'topics-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });

describe('ensureTopics', () => {
  it('creates the missing topics with the configured partitions, also when two apps race to create them', async () => {
    const suffix = randomBytes(4).toString('hex');
    const topics = [`spec.a.${suffix}`, `spec.b.${suffix}`];
    const [first, second] = await Promise.all([
      ensureTopics(kafka, topics, { partitions: 5, replicationFactor: 1 }),
      ensureTopics(kafka, topics, { partitions: 5, replicationFactor: 1 }),
    ]);
    expect([...first, ...second].sort()).toEqual(expect.arrayContaining(topics));
    const admin = kafka.admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics });
    await admin.disconnect();
    expect(metadata.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(topics.map((t) => [t, 5]));
    expect(await ensureTopics(kafka, topics, { partitions: 5, replicationFactor: 1 })).toEqual([]);
  });
});
