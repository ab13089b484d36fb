import { randomBytes } from 'node:crypto';
import { CompressionTypes, Kafka, logLevel, Partitioners, type KafkaMessage, type Message } from 'kafkajs';
import { eventually } from '@notify/testing';
import { ensureTopics } from './topics';

const kafka = new Kafka({ clientId: 'encoding-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });

/**
 * Records of every shape the producer's encoding (patched for speed, D23) treats apart: keys and values
 * as text, bytes or null; headers, repeated or not; timestamps of their own, given as text, and as
 * far from the batch's first as a 32-bit delta cannot hold (a broker refuses times more than an hour ahead).
 */
function shapes(): Message[] {
  const now = Date.now();
  return Array.from({ length: 300 }, (_, i) => ({
    key: i % 7 === 0 ? null : i % 5 === 0 ? randomBytes(1 + (i % 20)) : `user-${i % 40}-ключ`,
    value: i % 11 === 0 ? null : i % 3 === 0 ? randomBytes(i * 7) : JSON.stringify({ i, text: 'ü€😀'.repeat(i % 50) }),
    ...(i % 4 === 0 ? { headers: { 'error.code': `E${i}`, repeated: ['a', Buffer.from([0, 255])] } } : {}),
    ...(i % 6 === 0 ? { timestamp: String(now - i * 1_000) } : {}),
    ...(i % 13 === 0 ? { timestamp: String(now - 30 * 86_400_000) } : {}),
  }));
}

/** A consumed record reduced to what its producer gave, for comparison. */
const asSent = (m: KafkaMessage, i: number, sent: Message) => ({
  key: m.key === null ? null : Buffer.from(m.key),
  value: m.value === null ? null : Buffer.from(m.value),
  headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([name, value]) => [name, Array.isArray(value) ? value.map((v) => Buffer.from(v as Buffer)) : Buffer.from(value as Buffer)])),
  timestamp: sent.timestamp === undefined ? undefined : m.timestamp,
  i,
});
const given = (m: Message, i: number) => ({
  key: m.key === null || m.key === undefined ? null : Buffer.from(m.key),
  value: m.value === null ? null : Buffer.from(m.value),
  headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([name, value]) => [name, Array.isArray(value) ? value.map((v) => Buffer.from(v)) : Buffer.from(value as string)])),
  timestamp: m.timestamp,
  i,
});

describe('record encoding', () => {
  it.each([
    ['uncompressed', CompressionTypes.None],
    ['gzip', CompressionTypes.GZIP],
  ])('a %s batch of every record shape is taken by the broker and read back as it was sent', async (_name, compression) => {
    const topic = `spec.encoding.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const messages = shapes();
    // The broker checks each batch's CRC-32C and refuses one whose checksum or lengths are wrong.
    await producer.send({ topic, compression, messages });
    await producer.disconnect();

    const seen: KafkaMessage[] = [];
    const consumer = kafka.consumer({ groupId: `encoding-${randomBytes(4).toString('hex')}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    await eventually(async () => seen.length, (n) => n >= messages.length);
    await consumer.disconnect();
    expect(seen.map((m, i) => asSent(m, i, messages[i]!))).toEqual(messages.map(given));
    // Records without a timestamp of their own carry the produce time, as before the patch.
    expect(seen.filter((_, i) => messages[i]!.timestamp === undefined).every((m) => Math.abs(Number(m.timestamp) - Date.now()) < 3_600_000)).toBe(true);
  });
});
