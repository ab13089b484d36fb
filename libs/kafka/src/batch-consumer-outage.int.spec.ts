import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { DestinationStream } from 'pino';
import { createLogger } from '@notify/observability';
import { eventually, LocalKafka } from '@notify/testing';
import { BatchConsumer } from './batch-consumer';
import { ensureTopics } from './topics';

/** A broker of its own, which this test takes away for good. */
describe('BatchConsumer without its broker', () => {
  let broker: LocalKafka;

  beforeAll(async () => {
    broker = await LocalKafka.start();
  }, 120_000);
  afterAll(() => broker.stop());

  it('gives up, for its supervisor to restart the process, once it has not joined its group for longer than giveUpAfterMs', async () => {
    const kafka = new Kafka({ clientId: 'batch-consumer-outage-spec', brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 100 } });
    const topic = `spec.outage.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'before the outage' }] });
    await producer.disconnect();
    const groupId = `spec-outage-${randomBytes(4).toString('hex')}`;
    // A new broker makes its group coordinator (the offsets topic) at the first ask: until then a
    // consumer that cannot join would count toward giving up.
    const admin = kafka.admin();
    await admin.connect();
    await eventually(() => admin.describeGroups([groupId]).then(() => true, () => false), (ready) => ready, { timeoutMs: 60_000 });
    await admin.disconnect();
    const handled: string[] = [];
    const fatal: Error[] = [];
    // The clock giveUpAfterMs is measured by, moved by hand; the restarts are read from the log.
    let time = 0;
    const lines: string[] = [];
    const capture: DestinationStream = { write: (line: string) => void lines.push(line) };
    const restarts = () => lines.filter((line) => line.includes('kafka consumer failed; restarting it')).length;
    const consumer = new BatchConsumer(kafka, {
      groupId,
      topics: [topic],
      logger: createLogger('batch-consumer-outage-spec', 'error', capture),
      retries: 1,
      giveUpAfterMs: 3_000,
      now: () => time,
      onFatal: (error) => void fatal.push(error),
      handler: async (records) => void handled.push(...records.map((record) => record.value!.toString())),
    });
    try {
      await consumer.start();
      await eventually(async () => handled, (values) => values.length === 1, { timeoutMs: 60_000 });
      await broker.stop();
      await eventually(async () => restarts(), (n) => n > 0, { timeoutMs: 90_000 });
      // Restarted again and again just short of giveUpAfterMs after its first failure: it goes on trying.
      time = 2_999;
      const before = restarts();
      await eventually(async () => restarts(), (n) => n > before, { timeoutMs: 90_000 });
      expect(fatal).toEqual([]);
      // Out of its group for giveUpAfterMs, it consumes nothing: it must not stay up as if it did.
      time = 3_000;
      await eventually(async () => fatal.length, (n) => n > 0, { timeoutMs: 90_000 });
    } finally {
      await consumer.stop().catch(() => undefined);
    }
    expect(handled).toEqual(['before the outage']);
  }, 240_000);
});
