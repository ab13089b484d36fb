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
    const sendWave = async (wave: number, size: number) => {
      const messages = Array.from({ length: size }, (_, i) => {
        const id = `restart-${run}-${wave}-${i}`;
        ids.push(id);
        return { key: `u-${i % 10}`, value: JSON.stringify({ id, type: 'account.note', to: { userId: `rs-${run}-${i % 10}` }, content: { title: id } }) };
      });
      for (let i = 0; i < messages.length; i += 1_000) await producer.send({ topic: Topics.requests, messages: messages.slice(i, i + 1_000) });
    };
    const stored = async () =>
      Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM request_keys WHERE request_id LIKE $1', [`restart-${run}-%`])).rows[0]!.n);

    await sendWave(1, 200);
    await eventually(stored, (n) => n === 200);
    // Produced in paced chunks, so that the broker stops while requests are still being produced and
    // stored, and some are produced while it is down (the producer tries again until it is back).
    let producing = true;
    const flowing = (async () => {
      for (let chunk = 0; chunk < 30; chunk++) {
        await sendWave(2 + chunk, 1_000);
        await new Promise((done) => setTimeout(done, 100));
      }
      producing = false;
    })();
    await eventually(stored, (n) => n >= 1_200, { intervalMs: 20 });
    await broker.halt();
    expect(producing).toBe(true);
    await new Promise((done) => setTimeout(done, 2_000));
    await broker.resume();
    await flowing;
    await sendWave(32, 200);
    await eventually(stored, (n) => n === 30_400, { timeoutMs: 180_000 });
    await producer.disconnect();

    // Once each: one message per request, and each user's inbox numbered 1 to 3,040 without a gap or a repeat.
    const messages = await db.query<{ n: string }>('SELECT count(*) AS n FROM messages WHERE request_id LIKE $1', [`restart-${run}-%`]);
    expect(Number(messages.rows[0]!.n)).toBe(30_400);
    expect(new Set(ids).size).toBe(30_400);
    const inboxes = await db.query<{ n: string; first: string; last: string }>(
      `SELECT count(DISTINCT seq) AS n, min(seq) AS first, max(seq) AS last FROM inbox_entries WHERE user_id LIKE $1 GROUP BY user_id`,
      [`rs-${run}-%`],
    );
    expect(inboxes.rows.map(({ n, first, last }) => [Number(n), Number(first), Number(last)])).toEqual(Array.from({ length: 10 }, () => [3_040, 1, 3_040]));
    expect(fatal).toEqual([]);
  }, 420_000);
});
