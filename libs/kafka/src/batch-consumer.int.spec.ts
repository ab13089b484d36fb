import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { createLogger } from '@notify/observability';
import { eventually } from '@notify/testing';
import { BatchConsumer, type ConsumedRecord } from './batch-consumer';
import { ensureTopics } from './topics';

const kafka = new Kafka({ clientId: 'batch-consumer-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
const logger = createLogger('batch-consumer-spec', 'silent');

describe('BatchConsumer', () => {
  const topic = `spec.batch.${randomBytes(4).toString('hex')}`;
  const groupId = `spec-group-${randomBytes(4).toString('hex')}`;
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });

  beforeAll(async () => {
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 });
    await producer.connect();
  });
  afterAll(() => producer.disconnect());

  it('hands a batch again after its handler failed, and commits only after the handler succeeded', async () => {
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: `m${i}` })) });
    const handled: string[][] = [];
    let failuresLeft = 1;
    const first = new BatchConsumer(kafka, {
      groupId,
      topics: [topic],
      logger,
      onFatal: (error) => handled.push([`fatal: ${error.message}`]),
      handler: async (records: ConsumedRecord[]) => {
        handled.push(records.map((r) => r.value!.toString()));
        if (failuresLeft-- > 0) throw new Error('database unavailable');
      },
    });
    await first.start();
    await eventually(async () => handled.flat().filter((v) => v === 'm9').length, (n) => n >= 2);
    await first.stop();
    // The failed batch came back whole, from the same first offset.
    expect(handled[0]![0]).toBe('m0');
    expect(handled[1]![0]).toBe('m0');
    expect(new Set(handled.flat())).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `m${i}`)));

    await producer.send({ topic, messages: [{ key: 'k', value: 'after-restart' }] });
    const afterRestart: string[] = [];
    const second = new BatchConsumer(kafka, {
      groupId,
      topics: [topic],
      logger,
      onFatal: (error) => afterRestart.push(`fatal: ${error.message}`),
      handler: async (records) => void afterRestart.push(...records.map((r) => r.value!.toString())),
    });
    await second.start();
    await eventually(async () => afterRestart.length, (n) => n > 0);
    await second.stop();
    expect(afterRestart).toEqual(['after-restart']);
  });

  it('keeps its partitions while a handler works longer than the session, and handles the batch once', async () => {
    const slowTopic = `${topic}.slow`;
    await ensureTopics(kafka, [slowTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: slowTopic, messages: [{ key: 'k', value: 'slow' }] });
    const handled: string[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-slow`,
      topics: [slowTopic],
      logger,
      // The broker's shortest session; the handler takes half as long again.
      sessionTimeoutMs: 6_000,
      onFatal: (error) => handled.push(`fatal: ${error.message}`),
      handler: async (records) => {
        handled.push(...records.map((r) => r.value!.toString()));
        if (handled.length === 1) await new Promise((resolve) => setTimeout(resolve, 9_000));
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await consumer.start();
      const committed = async () => (await admin.fetchOffsets({ groupId: `${groupId}-slow`, topics: [slowTopic] }))[0]?.partitions[0]?.offset;
      await eventually(committed, (offset) => offset === '1', { timeoutMs: 30_000 });
    } finally {
      await consumer.stop();
      await admin.disconnect();
    }
    expect(handled).toEqual(['slow']);
  }, 60_000);
});
