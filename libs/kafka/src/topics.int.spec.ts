import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { deadLetterTopic } from './dead-letter';
import { DEAD_LETTER_MAX_BYTES, DEAD_LETTER_RETENTION_MS, ensureTopics, minInSyncReplicas, replicationFactorFor, topicProblems, topicProblemsWarning } from './topics';

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
    expect(await ensureTopics(kafka, topics, { partitions: 5, replicationFactor: 1 })).toEqual({ created: [], problems: [] });
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
    expect(made).toEqual({ created: [topic], replicationFactor: brokers.length, problems: [] });
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

  it('names the settings of a topic made by hand that fall short of its own, and leaves the topic as it is', async () => {
    // A topic made before these settings existed, or by hand: compacted (on notify.requests, keyed by
    // user, a user's older requests not consumed yet would be deleted), fewer partitions, and a
    // dead-letter topic taking the broker's 1 MiB. Nothing said so. (One broker: one copy wanted, and
    // min.insync.replicas 1, which the broker's default meets.)
    const suffix = randomBytes(4).toString('hex');
    const [byHand, byHandDlq, ours, ourDlq] = [`spec.e.${suffix}`, deadLetterTopic(`spec.e.${suffix}`), `spec.f.${suffix}`, deadLetterTopic(`spec.f.${suffix}`)];
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: byHand, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
          { topic: byHandDlq, numPartitions: 3 },
        ],
      });
      await ensureTopics(kafka, [ours, ourDlq], { partitions: 3 });
      const checked = await ensureTopics(kafka, [byHand, byHandDlq, ours, ourDlq], { partitions: 3 });
      expect(checked.created).toEqual([]);
      expect(checked.unchecked).toBeUndefined();
      expect(checked.problems).toEqual(
        expect.arrayContaining([
          { topic: byHand, setting: 'partitions', found: '1', wanted: 'at least 3' },
          { topic: byHand, setting: 'cleanup.policy', found: 'compact', wanted: 'delete' },
          { topic: byHandDlq, setting: 'max.message.bytes', found: expect.stringMatching(/^\d+$/), wanted: `at least ${DEAD_LETTER_MAX_BYTES}` },
          { topic: byHandDlq, setting: 'retention.ms', found: '604800000', wanted: `at least ${DEAD_LETTER_RETENTION_MS}` },
        ]),
      );
      // a topic ensureTopics made has none, and nothing else is named
      expect(checked.problems.filter((p) => p.topic === ours || p.topic === ourDlq)).toEqual([]);
      expect(checked.problems).toHaveLength(4);
      // one warning line naming each topic and setting
      const warning = topicProblemsWarning(checked)!;
      for (const named of [`${byHand} partitions 1 (wanted at least 3)`, `${byHand} cleanup.policy compact (wanted delete)`, `${byHandDlq} max.message.bytes`, `${byHandDlq} retention.ms 604800000`]) expect(warning).toContain(named);
      expect(topicProblemsWarning({ problems: [] })).toBeUndefined();
      // the topics are left as they were
      const [metadata, described] = [
        await admin.fetchTopicMetadata({ topics: [byHand] }),
        await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: byHand, configNames: ['cleanup.policy'] }], includeSynonyms: false }),
      ];
      expect(metadata.topics[0]!.partitions).toHaveLength(1);
      expect(described.resources[0]!.configEntries[0]).toMatchObject({ configName: 'cleanup.policy', configValue: 'compact' });
    } finally {
      await admin.disconnect();
    }
  });

  it('wants of a topic on a larger cluster the copies it would be created with, and acks=all answered by all but one of its copies', () => {
    // What one test broker cannot show: a topic made with one copy on three brokers, and one with
    // three copies but the broker's default min.insync.replicas of 1 (a leader alone answering).
    const settings = { partitions: 3, replicationFactor: replicationFactorFor(3) };
    const partitions = (copies: number) => Array.from({ length: 3 }, () => ({ replicas: Array.from({ length: copies }, (_, i) => i + 1) }));
    const configs = (minInSync: string) => new Map([['min.insync.replicas', minInSync], ['max.message.bytes', '1048588'], ['cleanup.policy', 'delete']]);
    expect(topicProblems({ topic: 'notify.requests', partitions: partitions(1) }, configs('1'), settings)).toEqual([
      { topic: 'notify.requests', setting: 'replication factor', found: '1', wanted: 'at least 3' },
    ]);
    expect(topicProblems({ topic: 'notify.requests', partitions: partitions(3) }, configs('1'), settings)).toEqual([
      { topic: 'notify.requests', setting: 'min.insync.replicas', found: '1', wanted: 'at least 2' },
    ]);
    expect(topicProblems({ topic: 'notify.requests', partitions: partitions(3) }, configs('2'), settings)).toEqual([]);
    // a dead-letter topic kept for ever is kept long enough
    const kept = (retentionMs: string) => new Map([['max.message.bytes', String(DEAD_LETTER_MAX_BYTES)], ['retention.ms', retentionMs]]);
    expect(topicProblems({ topic: 'notify.requests.dlq', partitions: partitions(3) }, kept('-1'), settings)).toEqual([]);
    expect(topicProblems({ topic: 'notify.requests.dlq', partitions: partitions(3) }, kept(String(DEAD_LETTER_RETENTION_MS)), settings)).toEqual([]);
    // compact,delete compacts too
    expect(topicProblems({ topic: 'notify.requests', partitions: partitions(3) }, new Map([['cleanup.policy', 'compact,delete']]), settings)).toEqual([
      { topic: 'notify.requests', setting: 'cleanup.policy', found: 'compact,delete', wanted: 'delete' },
    ]);
  });
});
