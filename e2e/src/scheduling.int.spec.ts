import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { loadMessageCenterConfig, loadSchedulerConfig } from '@notify/config';
import { DeliveryJobSchema, Topics, type DeliveryJob } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger } from '@notify/observability';
import { startScheduler } from '@notify/scheduler';
import { eventually, jsonOf } from '@notify/testing';
import { messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';
import { ownDatabase } from './own-database';

/**
 * Scheduled sends (`sendAt`) and escalation timeouts, with the scheduler's clock moved by the test.
 * On a database of the suite's own (`ownDatabase`), its consumer groups starting at their topics'
 * ends: the clock an hour ahead made due whatever earlier suites left pending in the shared one.
 */
describe('scheduled and escalated deliveries', () => {
  const database = ownDatabase();
  const run = randomBytes(4).toString('hex');
  const kafka = testKafka();
  let db: Client;
  /** Every job read back, with when it was produced (the record's timestamp, this host's clock). */
  const jobs: (DeliveryJob & { producedAt: number })[] = [];
  const reader = kafka.consumer({ groupId: `e2e-scheduling-${run}` });
  let clockOffsetMs = 0;
  let producer: Producer;
  const apps: INestApplication[] = [];

  const deliveries = async (requestId: string) =>
    (
      await db.query<{ id: string; channel: string; status: string }>(
        `SELECT d.id, d.channel, d.status FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id
          WHERE k.request_id = $1 ORDER BY d.tier`,
        [requestId],
      )
    ).rows;
  const inboxSeq = async (userId: string) =>
    (await db.query<{ seq: string }>('SELECT seq FROM inbox_entries WHERE user_id = $1', [userId])).rows.map((r) => Number(r.seq));

  beforeAll(async () => {
    db = new Client({ connectionString: database.url() });
    await db.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const env = {
      ...process.env,
      DATABASE_URL: database.url(),
      MESSAGE_CENTER_PORT: '0',
      SCHEDULER_PORT: '0',
      SCHEDULER_POLL_INTERVAL_MS: '100',
      MESSAGE_CENTER_GROUP: `e2e-sched-mc-${run}`,
    };
    await startGroupsAtTheEnd(kafka, [
      ...messageCenterGroups(env.MESSAGE_CENTER_GROUP),
      { groupId: `e2e-scheduling-${run}`, topic: Topics.deliver.websocket },
      { groupId: `e2e-scheduling-${run}`, topic: Topics.deliver.push },
    ]);
    const logger = createLogger('e2e', 'warn');
    apps.push(await startMessageCenter(loadMessageCenterConfig(env), logger, { onFatal: () => undefined }));
    apps.push(await startScheduler(loadSchedulerConfig(env), logger, { clock: () => new Date(Date.now() + clockOffsetMs) }));
    await reader.connect();
    await reader.subscribe({ topics: [Topics.deliver.websocket, Topics.deliver.push], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const job = DeliveryJobSchema.safeParse(jsonOf(message.value));
        if (job.success) jobs.push({ ...job.data, producedAt: Number(message.timestamp) });
      },
    });
  });

  afterAll(async () => {
    await reader.disconnect();
    for (const app of apps.reverse()) await app.close();
    await producer.disconnect();
    await db?.end();
    await database.drop();
  });

  it('holds a message until its sendAt, then releases it into the inbox and to the browser', async () => {
    const userId = `s-${run}`;
    const requestId = `later-${run}`;
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    await producer.send({
      topic: Topics.requests,
      messages: [{ key: userId, value: JSON.stringify({ id: requestId, type: 'account.note', to: { userId }, sendAt, content: { title: 'later' } }) }],
    });
    const rows = await eventually(() => deliveries(requestId), (r) => r.length === 2);
    expect(rows.find((r) => r.channel === 'websocket')!.status).toBe('held');
    expect(await inboxSeq(userId)).toEqual([]);
    expect(jobs.find((j) => j.requestId === requestId)).toBeUndefined();

    // Whenever the scheduler polls, the job is produced only once its clock has passed sendAt.
    const movedAt = Date.now();
    clockOffsetMs = 3_600_000 + 1_000;
    const job = await eventually(async () => jobs.find((j) => j.requestId === requestId), Boolean);
    expect(job).toMatchObject({ channel: 'websocket', userId, message: { title: 'later', seq: 1 } });
    expect(job!.producedAt).toBeGreaterThanOrEqual(movedAt);
    expect(await inboxSeq(userId)).toEqual([1]);
    expect((await deliveries(requestId)).find((r) => r.channel === 'websocket')!.status).toBe('queued');
  });

  it('escalates to push when the browser has not acknowledged within the route’s time', async () => {
    clockOffsetMs = 0;
    const userId = `e-${run}`;
    await producer.send({
      topic: Topics.recipients,
      messages: [{ key: userId, value: JSON.stringify({ op: 'device', userId, deviceId: 'd1', provider: 'hms', token: 'tok' }) }],
    });
    await eventually(async () => (await db.query('SELECT 1 FROM devices WHERE user_id = $1', [userId])).rowCount, (n) => n === 1);
    const requestId = `escalate-${run}`;
    await producer.send({
      topic: Topics.requests,
      messages: [{ key: userId, value: JSON.stringify({ id: requestId, type: 'account.note', to: { userId }, content: { title: 'x' } }) }],
    });
    const rows = await eventually(() => deliveries(requestId), (r) => r.length === 2);
    expect(rows.map((r) => [r.channel, r.status])).toEqual([
      ['websocket', 'queued'],
      ['push', 'held'],
    ]);

    const movedAt = Date.now();
    clockOffsetMs = 31_000;
    const job = await eventually(async () => jobs.find((j) => j.requestId === requestId && j.channel === 'push'), Boolean);
    expect(job).toMatchObject({ deliveryId: rows[1]!.id, endpoint: `hms:${userId}/d1` });
    expect(job!.producedAt).toBeGreaterThanOrEqual(movedAt);
  });
});
