import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { loadMessageCenterConfig } from '@notify/config';
import { Topics } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger } from '@notify/observability';
import { eventually } from '@notify/testing';
import { messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';
import { ownDatabase } from './own-database';

/** How far the message center host's wall clock runs behind the database's. */
const BEHIND_MS = 60_000;

/**
 * The message center plans by the database's time, which the scheduler releases held deliveries by,
 * not by its host's wall clock: on a host 60 s behind, the push tier of the default route (30 s
 * after the browser) was stored already due. The process's `Date` runs behind, as on such a host;
 * its timers and monotonic clock do not. On a database of the suite's own (`ownDatabase`): the
 * held push it leaves would be released into a later suite's channel workers.
 */
describe('message center clock', () => {
  const database = ownDatabase();
  const run = randomBytes(4).toString('hex');
  const kafka = testKafka();
  let db: Client;
  let producer: Producer;
  let center: INestApplication;

  beforeAll(async () => {
    db = new Client({ connectionString: database.url() });
    await db.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const env = { ...process.env, DATABASE_URL: database.url(), MESSAGE_CENTER_PORT: '0', MESSAGE_CENTER_GROUP: `e2e-clock-mc-${run}` };
    await startGroupsAtTheEnd(kafka, messageCenterGroups(env.MESSAGE_CENTER_GROUP));
    jest.useFakeTimers({
      now: Date.now() - BEHIND_MS,
      advanceTimers: true,
      doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
    });
    center = await startMessageCenter(loadMessageCenterConfig(env), createLogger('e2e', 'silent'), { onFatal: () => undefined });
  });

  afterAll(async () => {
    await center?.close();
    jest.useRealTimers();
    await producer.disconnect();
    await db?.end();
    await database.drop();
  });

  it('stores the push tier due 30 s after the database’s now on a host whose clock runs 60 s behind', async () => {
    const userId = `clock-${run}`;
    await producer.send({
      topic: Topics.recipients,
      messages: [{ key: userId, value: JSON.stringify({ op: 'device', userId, deviceId: 'd1', provider: 'fcm', token: `token-${run}` }) }],
    });
    await eventually(async () => (await db.query('SELECT 1 FROM devices WHERE user_id = $1', [userId])).rowCount, (n) => n === 1);
    const requestId = `clock-${run}`;
    await producer.send({
      topic: Topics.requests,
      messages: [{ key: userId, value: JSON.stringify({ id: requestId, type: 'clock.check', to: { userId }, content: { title: 'x' } }) }],
    });

    const rows = await eventually(
      async () =>
        (
          await db.query<{ channel: string; status: string; after_created_ms: number; due_in_ms: number }>(
            `SELECT d.channel, d.status,
                    (extract(epoch FROM d.next_attempt_at - m.created_at) * 1000)::float8 AS after_created_ms,
                    (extract(epoch FROM d.next_attempt_at - now()) * 1000)::float8 AS due_in_ms
               FROM deliveries d JOIN messages m ON m.id = d.message_id JOIN request_keys k ON k.message_id = d.message_id
              WHERE k.request_id = $1 ORDER BY d.tier`,
            [requestId],
          )
        ).rows,
      (r) => r.length === 2,
    );

    expect(rows.map((r) => [r.channel, r.status])).toEqual([
      ['websocket', 'queued'],
      ['push', 'held'],
    ]);
    expect(rows[1]!.after_created_ms).toBe(30_000);
    // Not due yet: by the host's clock it was due 30 s before it was stored.
    expect(rows[1]!.due_in_ms).toBeGreaterThan(0);
    expect(rows[1]!.due_in_ms).toBeLessThanOrEqual(30_000);
  });
});
