import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { startChannelWorker } from '@notify/channel-worker';
import { loadChannelWorkerConfig, loadMessageCenterConfig, loadSchedulerConfig } from '@notify/config';
import { Topics, type DeliveryJob } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger } from '@notify/observability';
import { startScheduler } from '@notify/scheduler';
import { eventually, startFakeTwilio, type FakeTwilio } from '@notify/testing';
import { readDeadLetter } from './dead-letters';
import { ownDatabase } from './own-database';
import { RunningPlatform, uniqueId } from './platform';
import { whileRefusing } from './storage-refusal';
import { channelWorkerGroups, messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

interface DeliveryRow {
  id: string;
  channel: string;
  endpoint: string;
  tier: number;
  status: string;
  locale: string;
  last_error: string | null;
}

/** Recipients, routing and fallback through the real broker and database. */
describe('message center routing', () => {
  const run = randomBytes(4).toString('hex');
  const kafka = testKafka();
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  const pushJobs: DeliveryJob[] = [];
  const pushReader = kafka.consumer({ groupId: `e2e-push-reader-${run}` });
  let producer: Producer;
  let center: INestApplication;

  const produce = (topic: string, key: string, value: unknown) =>
    producer.send({ topic, messages: [{ key, value: typeof value === 'string' ? value : JSON.stringify(value) }] });
  const deliveriesOf = async (requestId: string): Promise<DeliveryRow[]> =>
    (
      await db.query<DeliveryRow>(
        `SELECT d.id, d.channel, d.endpoint, d.tier, d.status, d.locale, d.last_error
           FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id = $1
          ORDER BY d.tier, d.channel`,
        [requestId],
      )
    ).rows;

  beforeAll(async () => {
    await db.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const env = { ...process.env, MESSAGE_CENTER_PORT: '0', MESSAGE_CENTER_GROUP: `e2e-routing-${run}` };
    await startGroupsAtTheEnd(kafka, [...messageCenterGroups(env.MESSAGE_CENTER_GROUP), { groupId: `e2e-push-reader-${run}`, topic: Topics.deliver.push }]);
    center = await startMessageCenter(loadMessageCenterConfig(env), createLogger('e2e', 'warn'), { onFatal: (e) => pushJobs.push({ fatal: e } as never) });
    await pushReader.connect();
    await pushReader.subscribe({ topics: [Topics.deliver.push], fromBeginning: true });
    await pushReader.run({ eachMessage: async ({ message }) => void pushJobs.push(JSON.parse(message.value!.toString())) });
  });

  afterAll(async () => {
    await pushReader.disconnect();
    await center.close();
    await producer.disconnect();
    await db.end();
  });

  it('keeps recipients from notify.recipients and routes to every channel they can be reached on', async () => {
    const userId = `r-${run}`;
    await produce(Topics.recipients, userId, { op: 'upsert', userId, phone: '+8613800000000', email: 'r@example.com', locale: 'zh-CN' });
    await produce(Topics.recipients, userId, { op: 'device', userId, deviceId: 'ipad-1', provider: 'apns', token: 'token-ipad-1', locale: 'en-US' });
    await produce(Topics.recipients, userId, { op: 'subscribe', userId, topic: `deals-${run}` });
    await eventually(
      async () => (await db.query('SELECT 1 FROM topic_subscriptions WHERE user_id = $1', [userId])).rowCount,
      (n) => n === 1,
    );

    const requestId = `alert-${run}`;
    await produce(Topics.requests, userId, { id: requestId, type: 'security.alert', to: { topic: `deals-${run}` }, content: { title: 'New sign-in', body: 'From Berlin' } });
    const rows = await eventually(() => deliveriesOf(requestId), (r) => r.length === 4);
    expect(rows.map(({ channel, endpoint, tier, status }) => ({ channel, endpoint, tier, status }))).toEqual([
      { channel: 'email', endpoint: 'r@example.com', tier: 0, status: 'queued' },
      { channel: 'push', endpoint: `apns:${userId}/ipad-1`, tier: 0, status: 'queued' },
      { channel: 'sms', endpoint: '+8613800000000', tier: 0, status: 'queued' },
      { channel: 'websocket', endpoint: `inbox:${userId}`, tier: 0, status: 'queued' },
    ]);
    const job = await eventually(async () => pushJobs.find((j) => j.requestId === requestId), Boolean);
    expect(job).toMatchObject({ userId, channel: 'push', endpoint: `apns:${userId}/ipad-1`, priority: 'high', message: { title: 'New sign-in', body: 'From Berlin' } });
  });

  it('records that a user has no endpoint on a channel instead of staying silent, and dead-letters a bad update', async () => {
    const userId = `nodev-${run}`;
    await produce(Topics.recipients, userId, { op: 'device', userId, deviceId: 'phone', provider: 'fcm', token: 't' });
    await produce(Topics.recipients, userId, { op: 'device-removed', userId, deviceId: 'phone' });
    await produce(Topics.recipients, userId, { op: 'device', userId, deviceId: 'x', provider: 'blackberry', token: 't' });
    const dead = await readDeadLetter(Topics.recipientsDlq, userId);
    expect(dead.headers).toMatchObject({ 'x-error-code': 'schema_violation', 'x-original-topic': Topics.recipients });
    const nulUser = `nul-${run}`;
    await produce(Topics.recipients, nulUser, { op: 'device', userId: nulUser, deviceId: 'x', provider: 'fcm', token: 'a\u0000b' });
    const unstorable = await readDeadLetter(Topics.recipientsDlq, nulUser);
    expect(unstorable.headers).toMatchObject({ 'x-error-code': 'schema_violation', 'x-error-reason': expect.stringMatching(/^token: /) });
    const latin1User = `latin1-${run}`;
    const latin1 = Buffer.from(JSON.stringify({ op: 'upsert', userId: latin1User, timezone: 'Europe/Zürich' }), 'latin1');
    await producer.send({ topic: Topics.recipients, messages: [{ key: latin1User, value: latin1 }] });
    const notUtf8 = await readDeadLetter(Topics.recipientsDlq, latin1User);
    expect(notUtf8.headers).toMatchObject({ 'x-error-code': 'invalid_json', 'x-error-reason': 'not valid JSON: the text is not UTF-8' });
    expect(notUtf8.value).toBe(latin1.toString('utf8'));

    const requestId = `nodev-${run}`;
    await produce(Topics.requests, userId, { id: requestId, type: 'security.alert', to: { userId }, content: { title: 't' } });
    const rows = await eventually(() => deliveriesOf(requestId), (r) => r.length === 4);
    expect(rows.filter((r) => r.status === 'dead').map(({ channel, last_error }) => ({ channel, last_error }))).toEqual([
      { channel: 'email', last_error: 'no_endpoint' },
      { channel: 'push', last_error: 'no_endpoint' },
      { channel: 'sms', last_error: 'no_endpoint' },
    ]);
  });

  it('gives a push token to its newest registration by the record’s time, also when an older one is consumed later', async () => {
    const [ada, bob] = [`ada-${run}`, `bob-${run}`];
    const registration = (userId: string) => JSON.stringify({ op: 'device', userId, deviceId: 'phone', provider: 'fcm', token: `token-${run}` });
    const devices = async () => (await db.query<{ user_id: string; active: boolean }>(`SELECT user_id, active FROM devices WHERE user_id = ANY($1) ORDER BY user_id`, [[ada, bob]])).rows;
    await producer.send({ topic: Topics.recipients, messages: [{ key: bob, value: registration(bob) }] });
    await eventually(devices, (rows) => rows.length === 1);
    // Ada's registration from a minute before Bob's, applied after it (her partition was behind).
    await producer.send({ topic: Topics.recipients, messages: [{ key: ada, value: registration(ada), timestamp: String(Date.now() - 60_000) }] });
    expect(await eventually(devices, (rows) => rows.length === 2)).toEqual([
      { user_id: ada, active: false },
      { user_id: bob, active: true },
    ]);
  });

  it('dead-letters a recipient update PostgreSQL refuses for its data, and applies the others of its batch', async () => {
    const refusedUser = `refused-${run}`;
    const keptUser = `kept-${run}`;
    await whileRefusing(db, 'recipients', `email IS DISTINCT FROM 'refused-${run}@example.com'`, async () => {
      await producer.send({
        topic: Topics.recipients,
        messages: [
          // One partition, so both arrive in one batch.
          { key: refusedUser, partition: 0, value: JSON.stringify({ op: 'upsert', userId: refusedUser, email: `refused-${run}@example.com` }) },
          { key: keptUser, partition: 0, value: JSON.stringify({ op: 'upsert', userId: keptUser, timezone: 'Europe/Berlin' }) },
        ],
      });
      const dead = await readDeadLetter(Topics.recipientsDlq, refusedUser);
      expect(dead.headers).toMatchObject({ 'x-error-code': 'storage_refused', 'x-error-reason': 'PostgreSQL refused to store the record (SQLSTATE 23514)' });
      const timezoneOf = async (userId: string) => (await db.query<{ timezone: string }>(`SELECT timezone FROM recipients WHERE user_id = $1`, [userId])).rows[0]?.timezone;
      expect(await eventually(() => timezoneOf(keptUser), Boolean)).toBe('Europe/Berlin');
      expect(await timezoneOf(refusedUser)).toBeUndefined();
    });
  });

  it('falls back to push when the browser was offline, renders the user’s locale, and cancels SMS once push delivered', async () => {
    const userId = `fb-${run}`;
    await produce(Topics.recipients, userId, { op: 'upsert', userId, phone: '+4915100000000', locale: 'zh-CN' });
    await produce(Topics.recipients, userId, { op: 'device', userId, deviceId: 'pixel', provider: 'fcm', token: 'token-pixel' });
    await eventually(async () => (await db.query('SELECT 1 FROM devices WHERE user_id = $1', [userId])).rowCount, (n) => n === 1);

    const requestId = `shipped-${run}`;
    await produce(Topics.requests, userId, { id: requestId, type: 'order.shipped', to: { userId }, data: { orderNo: '1234' } });
    const [websocket, push, sms] = await eventually(() => deliveriesOf(requestId), (r) => r.length === 3);
    expect([websocket!.status, push!.status, sms!.status]).toEqual(['queued', 'held', 'held']);
    expect(push!.locale).toBe('zh-CN');

    // What the gateway records and publishes when the user has no connected browser.
    await db.query(`UPDATE deliveries SET status = 'failed', last_error = 'offline' WHERE id = $1`, [websocket!.id]);
    await produce(Topics.events, userId, {
      requestId, messageId: 'm', userId, channel: 'websocket', status: 'failed', attempt: 1, at: new Date().toISOString(), error: 'offline', deliveryId: websocket!.id,
    });
    const job = await eventually(async () => pushJobs.find((j) => j.requestId === requestId), Boolean);
    expect(job).toMatchObject({ deliveryId: push!.id, locale: 'zh-CN', message: { title: '您的订单已发货', body: '订单 1234 正在路上' } });
    await db.query(`UPDATE deliveries SET status = 'delivered' WHERE id = $1`, [push!.id]);
    await produce(Topics.events, userId, {
      requestId, messageId: 'm', userId, channel: 'push', status: 'delivered', attempt: 1, at: new Date().toISOString(), error: null, deliveryId: push!.id,
    });
    await eventually(async () => (await deliveriesOf(requestId)).find((d) => d.channel === 'sms')?.status, (s) => s === 'cancelled');
  });

  it('cancels a released push waiting for its retry once the browser acknowledged the message after all', async () => {
    const userId = `fb-retry-${run}`;
    await produce(Topics.recipients, userId, { op: 'upsert', userId, phone: '+4915100000001' });
    await produce(Topics.recipients, userId, { op: 'device', userId, deviceId: 'pixel', provider: 'fcm', token: `token-retry-${run}` });
    await eventually(async () => (await db.query('SELECT 1 FROM devices WHERE user_id = $1', [userId])).rowCount, (n) => n === 1);

    const requestId = `shipped-retry-${run}`;
    await produce(Topics.requests, userId, { id: requestId, type: 'order.shipped', to: { userId }, data: { orderNo: '77' } });
    const [websocket, push] = await eventually(() => deliveriesOf(requestId), (r) => r.length === 3);
    await db.query(`UPDATE deliveries SET status = 'failed', last_error = 'offline' WHERE id = $1`, [websocket!.id]);
    await produce(Topics.events, userId, {
      requestId, messageId: 'm', userId, channel: 'websocket', status: 'failed', attempt: 1, at: new Date().toISOString(), error: 'offline', deliveryId: websocket!.id,
    });
    await eventually(async () => pushJobs.find((j) => j.requestId === requestId), Boolean);
    // FCM answered 503: the push waits for its retry. Then the browser's resend is acknowledged.
    await db.query(`UPDATE deliveries SET status = 'failed', last_error = 'unavailable', attempts = 1, next_attempt_at = now() + interval '1 hour' WHERE id = $1`, [push!.id]);
    await db.query(`UPDATE deliveries SET status = 'delivered' WHERE id = $1`, [websocket!.id]);
    await produce(Topics.events, userId, {
      requestId, messageId: 'm', userId, channel: 'websocket', status: 'delivered', attempt: 2, at: new Date().toISOString(), error: null, deliveryId: websocket!.id,
    });
    const rows = await eventually(() => deliveriesOf(requestId), (r) => r.every((d) => d.channel === 'websocket' || d.status === 'cancelled'));
    expect(rows.map((d) => [d.channel, d.status])).toEqual([['websocket', 'delivered'], ['push', 'cancelled'], ['sms', 'cancelled']]);
  });
});

/**
 * A route's fallback tiers against a browser that comes back: the message center, a gateway, the
 * scheduler and an SMS worker (a fake Twilio) on a database of the suite's own (`ownDatabase`: the
 * scheduler claims whatever is due in its database).
 */
describe('routing to a browser that comes back', () => {
  const database = ownDatabase();
  // The message waits in the browser first, then on the phone, then by SMS; a browser retry waits
  // most of its 10 minutes (the draw of its jitter is 0.999), far past the SMS.
  const routes = join(mkdtempSync(join(tmpdir(), 'routes-')), 'routes.yaml');
  writeFileSync(
    routes,
    `version: 1
routes:
  returning.note:
    channels: [websocket, push, sms]
    fallback: { policy: escalate, after: 30s }
    retry: { maxAttempts: 5, initialBackoff: 10m, maxBackoff: 1h }
`,
  );
  // No reconnect window: a user found offline is not tried again when it ends.
  const platform = new RunningPlatform({ NOTIFY_ROUTES: routes, GATEWAY_RECONNECT_WINDOW_MS: '0' }, database.url);
  const apps: INestApplication[] = [];
  let twilio: FakeTwilio;

  beforeAll(async () => {
    twilio = await startFakeTwilio();
    await platform.start();
    const run = randomBytes(4).toString('hex');
    const env = {
      ...process.env,
      DATABASE_URL: database.url(),
      SCHEDULER_PORT: '0',
      SCHEDULER_POLL_INTERVAL_MS: '200',
      CHANNEL_WORKER_PORT: '0',
      CHANNEL_WORKER_CHANNELS: 'sms',
      CHANNEL_WORKER_SMS_GROUP: `e2e-returning-sms-${run}`,
      SMS_DRIVER: 'twilio',
      SMS_TWILIO_BASE_URL: twilio.url,
      SMS_TWILIO_ACCOUNT_SID: twilio.accountSid,
      SMS_TWILIO_AUTH_TOKEN: twilio.authToken,
      SMS_TWILIO_FROM: '+15005550006',
    };
    const logger = createLogger('e2e', 'warn');
    await startGroupsAtTheEnd(testKafka(), channelWorkerGroups(env));
    apps.push(await startChannelWorker(loadChannelWorkerConfig(env), logger, { onFatal: () => undefined }));
    apps.push(await startScheduler(loadSchedulerConfig(env), logger, { random: () => 0.999 }));
  });
  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await platform.stop();
    await twilio?.close();
    await database.drop();
  });

  const deliveriesOf = (userId: string) =>
    platform.db.query(`SELECT channel, status, last_error, next_attempt_at > now() + interval '1 minute' AS waiting FROM deliveries WHERE user_id = $1 ORDER BY tier`, [userId]) as Promise<
      { channel: string; status: string; last_error: string | null; waiting: boolean | null }[]
    >;

  it('cancels the SMS once a browser that comes back has shown the message, instead of waiting for its retry', async () => {
    const userId = uniqueId('returning');
    const phone = '+4915100000042';
    await platform.db.query(`INSERT INTO recipients (user_id, phone) VALUES ($1, $2)`, [userId, phone]);
    await platform.db.query(`INSERT INTO devices (user_id, device_id, provider, token) VALUES ($1, 'phone', 'fcm', $2)`, [userId, `token-${userId}`]);

    // The laptop is asleep: the browser is found offline, the push goes (and is never confirmed), and
    // the browser's retry is drawn for 10 minutes on.
    await platform.produceRequest({ id: uniqueId('r'), type: 'returning.note', to: { userId }, content: { title: 'Your order shipped' } }, userId);
    await eventually(
      () => deliveriesOf(userId),
      (rows) => rows.length === 3 && rows[0]!.status === 'failed' && rows[0]!.waiting === true && rows[1]!.status === 'queued' && rows[2]!.status === 'held',
    );

    // The laptop wakes: the browser module connects and syncs the message onto the screen.
    const shown: string[] = [];
    const inbox = platform.connectInbox(userId, shown);
    try {
      await eventually(async () => inbox.lastSeq, (seq) => seq === 1);
      // Its delivery is sent again at once, and acknowledged: the tiers above are not needed.
      const rows = await eventually(() => deliveriesOf(userId), (r) => r[0]!.status === 'delivered' && r[2]!.status === 'cancelled');
      expect(rows.map(({ channel, status }) => [channel, status])).toEqual([['websocket', 'delivered'], ['push', 'cancelled'], ['sms', 'cancelled']]);
      expect(twilio.messages.filter((m) => m.to === phone)).toEqual([]);
      expect(shown).toEqual(['Your order shipped']);
    } finally {
      inbox.disconnect();
    }
  });
});
