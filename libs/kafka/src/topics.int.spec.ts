import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { ensureTopics, minInSyncReplicas, replicationFactorFor } from './topics';

const kafka = new Kafka({ clientId: 'topics-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });

describe('ensureTopics', () => {
  it('creates the missing topics with the configured partitions, also when two apps race to create them', async () => {
    const suffix = randomBytes(4).toString('hex');
    const topics = [`spec.a.${suffix}`, `spec.b.${suffix}`];
    const [first, second] = await Promise.all([
      ensureTopics(kafka, topics, { partitions: 5, replicationFactor: 1 }),
      ensureTopics(kafka, topics, { partitions: 5, replicationFactor: 1 }),
    ]);
    expect([...first.created, ...second.created].sort()).toEqual(expect.arrayContaining(topics));
    const admin = kafka.admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics });
    await admin.disconnect();
    expect(metadata.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(topics.map((t) => [t, 5]));
    expect(await ensureTopics(kafka, topics, { partitions: 5, replicationFactor: 1 })).toEqual({ created: [] });
  });

  it('lets an app that starts while another is creating their shared topics go on once the broker names them', async () => {
    // The start of `npm start` on a fresh broker: the message center creates every topic, and the
    // gateway, a moment later, the few it needs (some of them the same, one its own). The broker
    // answered the gateway "does not host this topic-partition" for a topic just created, until its
    // metadata caught up, and the gateway exited. Rounds with different delays, as the timing varies.
    const brokers = process.env.KAFKA_BROKERS!.split(',');
    for (let round = 0; round < 10; round++) {
      const suffix = randomBytes(4).toString('hex');
      const everyTopic = Array.from({ length: 9 }, (_, i) => `spec.shared${i}.${suffix}`);
      const someTopics = [everyTopic[4]!, everyTopic[0]!, `spec.own.${suffix}`];
      const [messageCenter, gateway] = ['spec-message-center', 'spec-gateway'].map((clientId) => new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING }));
      const [all, some] = await Promise.all([
        ensureTopics(messageCenter!, everyTopic, { partitions: 3, replicationFactor: 1 }),
        sleep(30 + (round % 5) * 20).then(() => ensureTopics(gateway!, someTopics, { partitions: 3, replicationFactor: 1 })),
      ]);
      expect(new Set([...all.created, ...some.created])).toEqual(new Set([...everyTopic, ...someTopics]));
    }
  });

  it('gives a topic created without a replication factor one copy per broker, up to three', async () => {
    expect([1, 2, 3, 5].map(replicationFactorFor)).toEqual([1, 2, 3, 3]);
    const topic = `spec.c.${randomBytes(4).toString('hex')}`;
    const made = await ensureTopics(kafka, [topic], { partitions: 2 });
    const admin = kafka.admin();
    await admin.connect();
    const [{ brokers }, metadata] = [await admin.describeCluster(), await admin.fetchTopicMetadata({ topics: [topic] })];
    await admin.disconnect();
    // the test broker is one node: one copy of each partition
    expect(made).toEqual({ created: [topic], replicationFactor: brokers.length });
    expect(metadata.topics[0]!.partitions.map((p) => p.replicas.length)).toEqual([brokers.length, brokers.length]);
  });

  it('asks acks=all for two copies of each record when there are three, one when there are fewer, as the topic’s min.insync.replicas', async () => {
    expect([1, 2, 3, 5].map(minInSyncReplicas)).toEqual([1, 1, 2, 2]);
    const topic = `spec.d.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 });
    const admin = kafka.admin();
    await admin.connect();
    const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }], includeSynonyms: false });
    await admin.disconnect();
    const entry = described.resources[0]!.configEntries.find((e) => e.configName === 'min.insync.replicas');
    // Set on the topic itself (configSource 1, DYNAMIC_TOPIC_CONFIG), not inherited from the broker.
    expect(entry).toMatchObject({ configValue: '1', configSource: 1 });
  });
});
