import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Producer } from 'kafkajs';
import { io } from 'socket.io-client';
import { loadSchedulerConfig } from '@notify/config';
import { Topics } from '@notify/contracts';
import { createLogger } from '@notify/observability';
import { runMigrations } from '@notify/persistence';
import { startScheduler } from '@notify/scheduler';
import { eventually, freePort } from '@notify/testing';
import { NotificationInbox } from '@notify/client/browser/notification-inbox.js';
import { AppProcess } from './app-process';
import { RunningPlatform, uniqueId } from './platform';
import { RestartablePostgres } from './restartable-postgres';
import { messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

/** The message center in its own process, its PostgreSQL stopped and started again while requests flow. */
describe('message center through a PostgreSQL restart', () => {
  const run = randomBytes(4).toString('hex');
  const group = `e2e-pg-restart-${run}`;
  const kafka = testKafka();
  const dataDir = mkdtempSync(join(tmpdir(), 'notify-pg-restart-'));
  let postgres: RestartablePostgres;
  let producer: Producer;
  let center: AppProcess;

  beforeAll(async () => {
    postgres = new RestartablePostgres(dataDir, await freePort());
    await postgres.start();
    await runMigrations({ databaseUrl: postgres.url });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await startGroupsAtTheEnd(kafka, messageCenterGroups(group));
    const port = await freePort();
    center = new AppProcess(
      'apps/message-center/src/main.ts',
      { DATABASE_URL: postgres.url, MESSAGE_CENTER_GROUP: group, MESSAGE_CENTER_PORT: String(port), LOG_LEVEL: 'error', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
      port,
    );
    await center.start();
  }, 180_000);

  afterAll(async () => {
    try {
      await center?.stop();
      await producer?.disconnect();
    } finally {
      await postgres?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('stores every request exactly once when PostgreSQL restarts in the middle of the flow, without the process restarting', async () => {
    const total = 1_000;
    const ids = Array.from({ length: total }, (_, i) => `pg-restart-${run}-${i}`);
    const request = (id: string, i: number) => ({
      key: `pg-user-${run}-${i % 20}`,
      value: JSON.stringify({ id, type: 'account.note', to: { userId: `pg-user-${run}-${i % 20}` }, channels: ['websocket'], content: { title: id } }),
    });
    const stored = async () => Number((await postgres.query<{ n: string }>(`SELECT count(*) AS n FROM request_keys WHERE request_id LIKE $1`, [`pg-restart-${run}-%`]))[0]!.n);

    // Requests keep coming in waves, before, during and after the restart.
    const producing = (async () => {
      for (let i = 0; i < total; i += 20) {
        await producer.send({ topic: Topics.requests, messages: ids.slice(i, i + 20).map((id, j) => request(id, i + j)) });
        await new Promise((done) => setTimeout(done, 40));
      }
    })();
    await eventually(stored, (n) => n >= 100, { timeoutMs: 60_000, intervalMs: 20 });
    // Cut in the middle: some stored, the rest still to come.
    expect(await stored()).toBeLessThan(total);
    expect(await postgres.stop()).toBe(0);
    // Down for a while: the consumer's batches fail and wait, new connections are refused.
    await new Promise((done) => setTimeout(done, 3_000));
    await postgres.start();
    await producing;

    await eventually(stored, (n) => n === total, { timeoutMs: 120_000 });
    const rows = await postgres.query<{ messages: string; distinct_requests: string; deliveries: string; inbox: string }>(
      `SELECT (SELECT count(*) FROM messages WHERE request_id LIKE $1) AS messages,
              (SELECT count(DISTINCT request_id) FROM messages WHERE request_id LIKE $1) AS distinct_requests,
              (SELECT count(*) FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at WHERE m.request_id LIKE $1) AS deliveries,
              (SELECT count(*) FROM inbox_entries WHERE user_id LIKE $2) AS inbox`,
      [`pg-restart-${run}-%`, `pg-user-${run}-%`],
    );
    expect(rows[0]).toEqual({ messages: String(total), distinct_requests: String(total), deliveries: String(total), inbox: String(total) });
    // Each user's inbox numbers are gap-free: 50 requests each, numbered 1 to 50.
    const numbers = await postgres.query<{ user_id: string; max: string; n: string }>(
      `SELECT user_id, max(seq) AS max, count(DISTINCT seq) AS n FROM inbox_entries WHERE user_id LIKE $1 GROUP BY user_id`,
      [`pg-user-${run}-%`],
    );
    expect(numbers.map(({ max, n }) => [max, n])).toEqual(Array.from({ length: 20 }, () => ['50', '50']));
    // The same process throughout, healthy again.
    expect(center.running).toBe(true);
    expect(await center.health()).toBe(200);
  }, 300_000);
});

/**
 * The message center and two gateways of a cluster in this process, with the scheduler, their
 * PostgreSQL stopped and started again; the browser module as the client.
 */
describe('a gateway cluster through a PostgreSQL restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'notify-pg-restart-'));
  let postgres: RestartablePostgres;
  const platform = new RunningPlatform({ GATEWAY_ACK_TIMEOUT_MS: '5000' }, () => postgres.url);
  let scheduler: INestApplication;
  let clockOffsetMs = 0;
  const note = (userId: string, title: string) =>
    platform.produceRequest({ id: uniqueId('pg-gw'), type: 'account.note', to: { userId }, channels: ['websocket'], content: { title } }, userId);

  beforeAll(async () => {
    postgres = new RestartablePostgres(dataDir, await freePort());
    await postgres.start();
    await runMigrations({ databaseUrl: postgres.url });
    await platform.start();
    const env = { ...process.env, DATABASE_URL: postgres.url, SCHEDULER_PORT: '0', SCHEDULER_POLL_INTERVAL_MS: '200' };
    scheduler = await startScheduler(loadSchedulerConfig(env), createLogger('e2e', 'warn'), { clock: () => new Date(Date.now() + clockOffsetMs) });
  }, 180_000);

  afterAll(async () => {
    try {
      await scheduler?.close();
      await platform.stop();
    } finally {
      await postgres?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('shows a user on another gateway each message produced before, during and after the restart once, and records it delivered', async () => {
    const edgePort = await platform.addEdgeGateway();
    const userId = uniqueId('pg-gw-user');
    const connections: string[] = [];
    const inbox = new NotificationInbox({
      io: io as never,
      url: `http://127.0.0.1:${edgePort}`,
      token: platform.tokenFor(userId),
      onStatus: (status) => void connections.push(status),
    }).connect();
    try {
      await eventually(async () => connections, (seen) => seen.includes('connected'));
      await note(userId, 'before');
      await eventually(async () => inbox.list().length, (n) => n === 1);

      expect(await postgres.stop()).toBe(0);
      await note(userId, 'while it was down');
      await new Promise((done) => setTimeout(done, 3_000));
      await postgres.start();
      await note(userId, 'after');

      // An emit made before the other gateway listens again on its new connection reaches nobody:
      // its acknowledgement times out and the resend poller sends it again, after its backoff (the
      // test moves the poller's clock past it once nothing is waiting for an acknowledgement).
      const statuses = () => postgres.query<{ status: string }>(`SELECT status FROM deliveries WHERE user_id = $1 AND channel = 'websocket' ORDER BY seq`, [userId]);
      await eventually(statuses, (rows) => rows.length === 3 && rows.every((row) => row.status === 'delivered' || row.status === 'failed'), { timeoutMs: 60_000 });
      clockOffsetMs = 3_600_000;
      expect(await eventually(statuses, (rows) => rows.every((row) => row.status === 'delivered'), { timeoutMs: 60_000 })).toEqual([
        { status: 'delivered' },
        { status: 'delivered' },
        { status: 'delivered' },
      ]);
      expect(inbox.list().map((m) => [m.seq, m.title])).toEqual([
        [1, 'before'],
        [2, 'while it was down'],
        [3, 'after'],
      ]);
      expect(platform.fatalErrors).toEqual([]);
    } finally {
      inbox.disconnect();
    }
  }, 300_000);
});
