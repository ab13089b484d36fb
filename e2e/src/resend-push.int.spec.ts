import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { startChannelWorker } from '@notify/channel-worker';
import { loadChannelWorkerConfig, loadSchedulerConfig } from '@notify/config';
import { createLogger } from '@notify/observability';
import { newId } from '@notify/persistence';
import { startScheduler } from '@notify/scheduler';
import { eventually, startFakeApns, type FakeApns } from '@notify/testing';
import { channelWorkerGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';
import { ownDatabase } from './own-database';

/**
 * A receiver's pending push messages are re-sent as one summary notification per device. The apps
 * work on a database of the suite's own (`ownDatabase`).
 */
describe('resend to a phone', () => {
  const database = ownDatabase();
  const run = randomBytes(4).toString('hex');
  let db: Client;
  const apps: INestApplication[] = [];
  let apns: FakeApns;

  beforeAll(async () => {
    apns = await startFakeApns();
    db = new Client({ connectionString: database.url() });
    await db.connect();
    const logger = createLogger('e2e', 'warn');
    const env = {
      ...process.env,
      DATABASE_URL: database.url(),
      CHANNEL_WORKER_PORT: '0',
      CHANNEL_WORKER_CHANNELS: 'push',
      CHANNEL_WORKER_PUSH_GROUP: `e2e-resend-push-${run}`,
      PUSH_APNS_DRIVER: 'apns',
      PUSH_APNS_BASE_URL: apns.url,
      PUSH_APNS_TEAM_ID: apns.teamId,
      PUSH_APNS_KEY_ID: apns.keyId,
      PUSH_APNS_TOPIC: apns.topic,
      PUSH_APNS_SIGNING_KEY: apns.signingKey,
      SCHEDULER_PORT: '0',
      SCHEDULER_POLL_INTERVAL_MS: '200',
    };
    await startGroupsAtTheEnd(testKafka(), channelWorkerGroups(env));
    apps.push(await startChannelWorker(loadChannelWorkerConfig(env), logger, { onFatal: () => undefined }));
    apps.push(await startScheduler(loadSchedulerConfig(env), logger));
  });
  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await apns?.close();
    await db?.end();
    await database.drop();
  });

  it('sends "3 new messages" once, with the message ids, and records each of the three', async () => {
    const userId = `phone-${run}`;
    const token = randomBytes(32).toString('hex');
    await db.query(`INSERT INTO devices (user_id, device_id, provider, token) VALUES ($1, 'phone', 'apns', $2)`, [userId, token]);
    const createdAt = new Date(Date.now() - 600_000);
    const messageIds: string[] = [];
    const deliveryIds: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const at = new Date(createdAt.getTime() + i);
      const messageId = newId(at);
      const deliveryId = newId(at);
      messageIds.push(messageId);
      deliveryIds.push(deliveryId);
      await db.query(
        `INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1, $2, 'note', '{}', $3, $4)`,
        [messageId, `resend-push-${run}-${i}`, JSON.stringify({ en: { title: `Title ${i}`, body: `Body ${i}` } }), at],
      );
      await db.query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, last_error, next_attempt_at, created_at)
         VALUES ($1, $2, $3, 'push', $4, 'en', 'failed', 1, 'unavailable', $5, $6)`,
        [deliveryId, messageId, userId, `apns:${userId}/phone`, new Date(Date.now() - 1_000), at],
      );
    }

    // The claim marks the deliveries sent before the provider is called: wait for the provider's side.
    await eventually(async () => apns.pushes.filter((p) => p.token === token).length, (n) => n > 0, { timeoutMs: 60_000 });
    const rows = await eventually(
      async () => (await db.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM deliveries WHERE id = ANY($1)`, [deliveryIds])).rows,
      (r) => r.length === 3 && r.every((d) => d.status === 'sent' && d.attempts === 2),
    );
    expect(rows).toHaveLength(3);
    const pushes = apns.pushes.filter((p) => p.token === token);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.payload).toMatchObject({ aps: { alert: { title: '3 new messages', body: 'Title 3' } } });
    expect(JSON.stringify(pushes[0]!.payload)).toContain(JSON.stringify(messageIds).slice(1, -1).replaceAll('"', '\\"'));
  });
});
