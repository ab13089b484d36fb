import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { startChannelWorker } from '@notify/channel-worker';
import { loadChannelWorkerConfig, loadSchedulerConfig } from '@notify/config';
import { createLogger } from '@notify/observability';
import { newId } from '@notify/persistence';
import { startScheduler } from '@notify/scheduler';
import { eventually, startFakeApns, startFakeSmtp, type FakeApns, type FakeSmtp } from '@notify/testing';
import { channelWorkerGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';
import { ownDatabase } from './own-database';

/**
 * A receiver's pending push messages are re-sent as one summary notification per device, and its
 * pending emails as one digest when the route asks for it. The apps work on a database of the
 * suite's own (`ownDatabase`).
 */
describe('resend to a phone and a mailbox', () => {
  const database = ownDatabase();
  const run = randomBytes(4).toString('hex');
  let db: Client;
  const apps: INestApplication[] = [];
  let apns: FakeApns;
  let smtp: FakeSmtp;

  beforeAll(async () => {
    apns = await startFakeApns();
    smtp = await startFakeSmtp();
    db = new Client({ connectionString: database.url() });
    await db.connect();
    const logger = createLogger('e2e', 'warn');
    const env = {
      ...process.env,
      DATABASE_URL: database.url(),
      CHANNEL_WORKER_PORT: '0',
      CHANNEL_WORKER_CHANNELS: 'push,email',
      CHANNEL_WORKER_PUSH_GROUP: `e2e-resend-push-${run}`,
      CHANNEL_WORKER_EMAIL_GROUP: `e2e-resend-email-${run}`,
      EMAIL_DRIVER: 'smtp',
      SMTP_HOST: `${smtp.host}:${smtp.port}`,
      SMTP_USER: smtp.user,
      SMTP_PASSWORD: smtp.password,
      SMTP_FROM: 'Notify <notify@example.com>',
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
    await smtp?.close();
    await db?.end();
    await database.drop();
  });

  /**
   * Messages of `userId` whose first send on `channel` failed, due for their resend, one a millisecond,
   * oldest first; in one transaction, so the running poller never claims some of them without the others.
   */
  async function seedFailed(userId: string, channel: string, endpoint: string, contents: { title: string; body: string }[], retry: object = {}, lastError = 'unavailable') {
    const createdAt = new Date(Date.now() - 600_000);
    const messageIds: string[] = [];
    const deliveryIds: string[] = [];
    await db.query('BEGIN');
    for (const [i, content] of contents.entries()) {
      const at = new Date(createdAt.getTime() + i);
      const messageId = newId(at);
      const deliveryId = newId(at);
      messageIds.push(messageId);
      deliveryIds.push(deliveryId);
      await db.query(
        `INSERT INTO messages (id, request_id, type, recipient, contents, retry, created_at) VALUES ($1, $2, 'note', '{}', $3, $4, $5)`,
        [messageId, `resend-${channel}-${run}-${i}`, JSON.stringify({ en: content }), JSON.stringify({ maxAttempts: 5, initialBackoffMs: 1_000, maxBackoffMs: 60_000, ...retry }), at],
      );
      await db.query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, last_error, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 'en', 'failed', 1, $8, $6, $7)`,
        [deliveryId, messageId, userId, channel, endpoint, new Date(Date.now() - 1_000), at, lastError],
      );
    }
    await db.query('COMMIT');
    return { messageIds, deliveryIds };
  }

  it('sends "3 new messages" once, with the message ids, and records each of the three', async () => {
    const userId = `phone-${run}`;
    const token = randomBytes(32).toString('hex');
    await db.query(`INSERT INTO devices (user_id, device_id, provider, token) VALUES ($1, 'phone', 'apns', $2)`, [userId, token]);
    const contents = [1, 2, 3].map((i) => ({ title: `Title ${i}`, body: `Body ${i}` }));
    const { messageIds, deliveryIds } = await seedFailed(userId, 'push', `apns:${userId}/phone`, contents);

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

  it('sends each push whose first send may have reached the phone on its own, so its collapse id replaces the first copy', async () => {
    // The worker was killed after APNs took both: their lease ran out without an outcome.
    const userId = `lost-${run}`;
    const token = randomBytes(32).toString('hex');
    await db.query(`INSERT INTO devices (user_id, device_id, provider, token) VALUES ($1, 'phone', 'apns', $2)`, [userId, token]);
    const contents = [1, 2].map((i) => ({ title: `Title ${i}`, body: `Body ${i}` }));
    const { messageIds, deliveryIds } = await seedFailed(userId, 'push', `apns:${userId}/phone`, contents, {}, 'no_outcome');

    await eventually(
      async () => (await db.query<{ status: string; attempts: number; last_error: string | null }>(`SELECT status, attempts, last_error FROM deliveries WHERE id = ANY($1)`, [deliveryIds])).rows,
      // The claim marks them `sent` before APNs is called, keeping the last error: wait for APNs's answers.
      (r) => r.length === 2 && r.every((d) => d.status === 'sent' && d.attempts === 2 && d.last_error === null),
      { timeoutMs: 60_000 },
    );
    const pushes = apns.pushes.filter((p) => p.token === token);
    expect(pushes.map((p) => p.headers['apns-collapse-id']).sort()).toEqual([...messageIds].sort());
    expect(pushes.map((p) => (p.payload as { aps: { alert: { title: string } } }).aps.alert.title).sort()).toEqual(['Title 1', 'Title 2']);
  });

  it('mails the messages of a digest the server refused for one message’s words each on its own, so only that one is lost', async () => {
    const userId = `mailbox-${run}`;
    const address = `digest-${run}@example.com`;
    await db.query(`INSERT INTO recipients (user_id, email) VALUES ($1, $2)`, [userId, address]);
    smtp.rejectText('casino', 554, '5.7.1 Message content rejected');
    const contents = [
      { title: 'Invoice', body: 'Your invoice is ready' },
      { title: 'Offer', body: 'Win big at the casino' },
      { title: 'Reminder', body: 'Your appointment is tomorrow' },
    ];
    const { deliveryIds } = await seedFailed(userId, 'email', address, contents, { digest: true });

    const rows = await eventually(
      async () => (await db.query<{ id: string; status: string; attempts: number; last_error: string | null }>(`SELECT id, status, attempts, last_error FROM deliveries WHERE id = ANY($1)`, [deliveryIds])).rows,
      // The claim marks them `sent` before the server is called, keeping the last error: wait for the server's answers.
      (r) => r.length === 3 && r.every((d) => d.attempts === 2 && d.last_error !== 'unavailable'),
      { timeoutMs: 60_000 },
    );
    const statusOf = new Map(rows.map((row) => [row.id, [row.status, row.last_error]]));
    expect(deliveryIds.map((id) => statusOf.get(id))).toEqual([['sent', null], ['dead', 'rejected'], ['sent', null]]);
    const mails = smtp.mails.filter((mail) => mail.to.includes(address));
    // Sent each on its own at once, over the pool's connections: in any order.
    expect(mails.map((mail) => /^Subject: (.*)$/m.exec(mail.raw)?.[1]).sort()).toEqual(['Invoice', 'Reminder']);
  });
});
