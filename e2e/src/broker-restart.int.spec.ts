import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Client } from 'pg';
import { loadMessageCenterConfig } from '@notify/config';
import { Topics } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger } from '@notify/observability';
import { eventually, LocalKafka } from '@notify/testing';

/** A broker of this test's own, so restarting it disturbs nothing else. */
describe('message center across a broker restart', () => {
  const run = randomBytes(4).toString('hex');
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  const fatal: Error[] = [];
  let broker: LocalKafka;
  let center: INestApplication;

  beforeAll(async () => {
    await db.connect();
    broker = await LocalKafka.start();
    const env = { ...process.env, KAFKA_BROKERS: broker.brokers, MESSAGE_CENTER_PORT: '0', MESSAGE_CENTER_GROUP: `e2e-restart-${run}` };
    center = await startMessageCenter(loadMessageCenterConfig(env), createLogger('e2e', 'silent'), { onFatal: (e) => void fatal.push(e) });
  });

  afterAll(async () => {
    await center.close();
    await broker.stop();
    await db.end();
  });

  it('stores every request produced before, during and after the restart, without restarting the process', async () => {
    const kafka = new Kafka({ clientId: 'e2e-restart', brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 200 } });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const ids: string[] = [];
    const sendWave = async (wave: number) => {
      const messages = Array.from({ length: 200 }, (_, i) => {
        const id = `restart-${run}-${wave}-${i}`;
        ids.push(id);
        return { key: `u-${i % 10}`, value: JSON.stringify({ id, type: 'account.note', to: { userId: `rs-${run}-${i % 10}` }, content: { title: id } }) };
      });
      await producer.send({ topic: Topics.requests, messages });
    };
    const stored = async () =>
      Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM request_keys WHERE request_id LIKE $1', [`restart-${run}-%`])).rows[0]!.n);

    await sendWave(1);
    await eventually(stored, (n) => n === 200);
    const restarting = broker.restart();
    await sendWave(2).catch(() => sendWave(2));
    await restarting;
    await sendWave(3);
    await eventually(stored, (n) => n === 600, { timeoutMs: 90_000 });
    await producer.disconnect();

    // Once each: one message per request, and each user's inbox numbered 1 to 60 without a gap or a repeat.
    const messages = await db.query<{ n: string }>('SELECT count(*) AS n FROM messages WHERE request_id = ANY($1)', [[...new Set(ids)]]);
    expect(Number(messages.rows[0]!.n)).toBe(600);
    const inboxes = await db.query<{ seqs: string[] }>(
      `SELECT array_agg(seq ORDER BY seq) AS seqs FROM inbox_entries WHERE user_id LIKE $1 GROUP BY user_id`,
      [`rs-${run}-%`],
    );
    const oneToSixty = Array.from({ length: 60 }, (_, i) => i + 1);
    expect(inboxes.rows.map((row) => row.seqs.map(Number))).toEqual(Array.from({ length: 10 }, () => oneToSixty));
    expect(fatal).toEqual([]);
  }, 300_000);
});
