import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { createLogger } from '@notify/observability';
import { eventually } from '@notify/testing';
import { BatchConsumer } from './batch-consumer';
import { deadLetterTopic, ORIGINAL_KEY_BYTES, ORIGINAL_VALUE_BYTES, type Rejection } from './dead-letter';
import { sendDeadLetters } from './fan-out';
import { recordHeaders } from './record-headers';
import { ensureTopics } from './topics';

const kafka = new Kafka({ clientId: 'dead-letters-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });

interface Copy {
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

/** The first `count` records of a topic. */
async function readCopies(topic: string, count: number): Promise<Copy[]> {
  const copies: Copy[] = [];
  const consumer = kafka.consumer({ groupId: `dead-letters-${randomBytes(4).toString('hex')}`, maxBytesPerPartition: 16 * 1024 * 1024, maxBytes: 16 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) =>
      void copies.push({
        value: message.value,
        headers: Object.fromEntries(Object.entries(recordHeaders(message.headers)).map(([k, v]) => [k, String(v)])),
        timestamp: message.timestamp,
      }),
  });
  try {
    await eventually(async () => copies.length, (n) => n >= count);
    return copies;
  } finally {
    await consumer.disconnect();
  }
}

/** When the records the copies are made of were produced: a minute before the test. */
const PRODUCED_AT = String(Date.now() - 60_000);

const rejection = (topic: string, offset: string, value: Buffer, headers: Record<string, string>): Rejection => ({
  record: { topic, partition: 0, offset, key: Buffer.from('k'), value, headers, timestamp: PRODUCED_AT },
  code: 'payload_too_large',
  reason: 'request is too large',
});

/** A consumer of `source` that dead-letters (with `producer`) its records whose value is `not json`, and the values it handled. */
async function deadLetteringNotJson(producer: Producer, source: string): Promise<{ consumer: BatchConsumer; handled: string[]; fatal: Error[] }> {
  const fatal: Error[] = [];
  const handled: string[] = [];
  const consumer = new BatchConsumer(kafka, {
    groupId: `dead-letters-${randomBytes(4).toString('hex')}`,
    topics: [source],
    logger: createLogger('dead-letters-spec', 'silent'),
    onFatal: (error) => void fatal.push(error),
    handler: async (records) => {
      await sendDeadLetters(producer, records.filter((r) => r.value?.toString() === 'not json').map((record) => ({ record, code: 'invalid_json', reason: 'not JSON' })));
      handled.push(...records.map((r) => r.value!.toString()));
    },
  });
  await consumer.start();
  return { consumer, handled, fatal };
}

/** A source topic whose dead-letter topic an older installation, or an operator, made with a small limit. */
async function withSmallDeadLetterTopic(): Promise<string> {
  const source = `spec.dl.${randomBytes(4).toString('hex')}`;
  await ensureTopics(kafka, [source], { partitions: 1, replicationFactor: 1 });
  const creator = kafka.admin();
  await creator.connect();
  await creator
    .createTopics({ waitForLeaders: true, topics: [{ topic: deadLetterTopic(source), numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }] })
    .finally(() => creator.disconnect());
  return source;
}

describe('sendDeadLetters', () => {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  beforeAll(() => producer.connect());
  afterAll(() => producer.disconnect());

  it('copies an incompressible record just under the broker’s limit whole, headers added, to a dead-letter topic it created', async () => {
    const source = `spec.dl.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [source, deadLetterTopic(source)], { partitions: 1, replicationFactor: 1 });
    // The broker's default limit is 1,048,588 bytes per batch: this record fit, its copy with the
    // error headers (gzip cannot shrink random bytes) does not, on a topic with the default limit.
    const value = randomBytes(1_048_400);

    await sendDeadLetters(producer, [rejection(source, '7', value, { 'trace-id': 't-1' })]);

    const [copy] = await readCopies(deadLetterTopic(source), 1);
    expect(copy!.value!.equals(value)).toBe(true);
    expect(copy!.headers).toMatchObject({ 'trace-id': 't-1', 'x-error-code': 'payload_too_large', 'x-original-offset': '7' });
    expect(copy!.headers['x-original-timestamp']).toBe(PRODUCED_AT);
    // The copy itself is stamped when it is dead-lettered: it lives the topic's whole retention.
    expect(Number(copy!.timestamp)).toBeGreaterThan(Number(PRODUCED_AT));
  });

  it('copies a record with a header that has no value, as a Java producer may write one', async () => {
    const source = `spec.dl.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [source, deadLetterTopic(source)], { partitions: 1, replicationFactor: 1 });
    const withoutValue = { ...rejection(source, '3', Buffer.from('not json'), { 'trace-id': 't-3' }) };
    withoutValue.record.headers = { ...withoutValue.record.headers, baggage: null } as unknown as Rejection['record']['headers'];

    await sendDeadLetters(producer, [withoutValue]);

    const [copy] = await readCopies(deadLetterTopic(source), 1);
    expect(copy!.value).toEqual(Buffer.from('not json'));
    expect(copy!.headers).toMatchObject({ 'trace-id': 't-3', baggage: '', 'x-error-code': 'payload_too_large', 'x-original-offset': '3' });
  });

  it('sends a copy the dead-letter topic refuses without its value, and the copies beside it whole', async () => {
    const source = await withSmallDeadLetterTopic();

    // The large copy goes in a produce call of its own (over 512 KiB), after the first small one's.
    await sendDeadLetters(producer, [
      rejection(source, '1', Buffer.from('{"id": "half a request", "type":'), { 'trace-id': 't-1' }),
      rejection(source, '2', randomBytes(600_000), { 'trace-id': 't-2' }),
      rejection(source, '3', Buffer.from('not json'), { 'trace-id': 't-3' }),
    ]);

    const copies = await readCopies(deadLetterTopic(source), 3);
    expect(copies.map((c) => [c.value?.toString() ?? null, c.headers['x-original-offset'], c.headers['x-error-code'], c.headers[ORIGINAL_VALUE_BYTES], c.headers['trace-id']])).toEqual([
      ['{"id": "half a request", "type":', '1', 'payload_too_large', undefined, 't-1'],
      [null, '2', 'payload_too_large', '600000', undefined],
      ['not json', '3', 'payload_too_large', undefined, 't-3'],
    ]);
    // and nothing twice: the copies sent before the refused call are not sent again
    const admin = kafka.admin();
    await admin.connect();
    const [end] = await admin.fetchTopicOffsets(deadLetterTopic(source)).finally(() => admin.disconnect());
    expect(end!.high).toBe('3');
  });

  it('sends a copy whose key alone is over the dead-letter topic’s limit without its key and value', async () => {
    const source = await withSmallDeadLetterTopic();
    const hugeKey = rejection(source, '4', Buffer.from('not json'), {});
    hugeKey.record.key = randomBytes(60_000);

    await sendDeadLetters(producer, [hugeKey]);

    const [copy] = await readCopies(deadLetterTopic(source), 1);
    expect([copy!.value, copy!.headers['x-original-offset'], copy!.headers[ORIGINAL_VALUE_BYTES], copy!.headers[ORIGINAL_KEY_BYTES]]).toEqual([null, '4', '8', '60000']);
    expect(copy!.headers['x-original-timestamp']).toBe(PRODUCED_AT);
  });

  it('copies a consumed record whose headers are named like properties every object has, as its producer wrote them', async () => {
    const source = `spec.dl.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [source, deadLetterTopic(source)], { partitions: 1, replicationFactor: 1 });
    const headers = { constructor: 'c', toString: ['t1', 't2'], ['__proto__']: 'p', 'trace-id': 't-5' };
    await producer.send({ topic: source, messages: [{ key: 'k', value: 'not json', headers }, { key: 'k', value: 'next' }] });
    const { consumer, handled, fatal } = await deadLetteringNotJson(producer, source);
    try {
      const [copy] = await readCopies(deadLetterTopic(source), 1);
      expect(copy!.headers).toEqual({
        ...headers,
        toString: 't1,t2',
        'x-error-code': 'invalid_json',
        'x-error-reason': 'not JSON',
        'x-original-topic': source,
        'x-original-partition': '0',
        'x-original-offset': '0',
        'x-original-timestamp': expect.stringMatching(/^\d+$/),
      });
      await eventually(async () => handled, (values) => values.includes('next'));
      expect(fatal).toEqual([]);
    } finally {
      await consumer.stop();
    }
  });

  it('copies a record with 40,000 headers, a repeated one in its order, and goes on with the records after it', async () => {
    // kafkajs as published gathered a record's headers by copying them once per header: 40,000 took
    // it about 19 s of a blocked event loop, on every fetch of the record (patches/kafkajs+2.2.4.patch).
    const source = `spec.dl.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [source, deadLetterTopic(source)], { partitions: 1, replicationFactor: 1 });
    const many = Array.from({ length: 40_000 }, (_, i) => [`h-${i}`, String(i % 10)]);
    const headers: Record<string, string | string[]> = { ...Object.fromEntries(many), hop: ['1', '2', '3'] };
    await producer.send({ topic: source, messages: [{ key: 'k', value: 'not json', headers }, { key: 'k', value: 'next' }] });
    const { consumer, handled, fatal } = await deadLetteringNotJson(producer, source);
    try {
      const [copy] = await readCopies(deadLetterTopic(source), 1);
      expect(copy!.headers['h-39999']).toBe('9');
      expect(copy!.headers.hop).toBe('1,2,3');
      expect(Object.keys(copy!.headers).filter((name) => name.startsWith('h-'))).toHaveLength(40_000);
      await eventually(async () => handled, (values) => values.includes('next'));
      expect(fatal).toEqual([]);
    } finally {
      await consumer.stop();
    }
  });
});
