import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import type { DestinationStream } from 'pino';
import { startChannelWorker } from '@notify/channel-worker';
import { loadChannelWorkerConfig, loadMessageCenterConfig } from '@notify/config';
import { ClickLinks, DeliveryJobSchema, OutcomeEventSchema, Topics, type DeliveryJob, type OutcomeEvent } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger, listeningPort } from '@notify/observability';
import { newId } from '@notify/persistence';
import {
  bounceOf,
  eventually,
  startFakeApns,
  startFakeHms,
  startFakeSmtp,
  startFakeTwilio,
  startFakeXiaomi,
  type FakeApns,
  type FakeHms,
  type FakeSmtp,
  type FakeTwilio,
  type FakeXiaomi,
  type SmtpMail,
  type TwilioStatus,
} from '@notify/testing';
import { readAllRecords } from './dead-letters';
import { channelWorkerGroups, messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

/** On a fresh broker and a busy machine a consumer's first group join can take a while; this is a bound, not a timing. */
const JOIN_BUDGET = { timeoutMs: 60_000 };

interface DeliveryRow {
  id: string;
  channel: string;
  endpoint: string;
  status: string;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date | null;
}

/**
 * The channel worker against the vendors' protocols (local APNs, HMS, Twilio and SMTP servers),
 * the run's broker and database, with the message center planning the deliveries in-process.
 */
describe('channel worker', () => {
  const run = randomBytes(4).toString('hex');
  const kafka = testKafka();
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  const events: OutcomeEvent[] = [];
  const pushJobs: DeliveryJob[] = [];
  const reader = kafka.consumer({ groupId: `e2e-channel-worker-reader-${run}` });
  const workerLog: string[] = [];
  /** Every phone number, address and token the worker handles: none may reach its log. */
  const personalData: string[] = [];
  let frozenAt: Date | undefined;
  let clockOffsetMs = 0;
  let producer: Producer;
  let apns: FakeApns;
  let hms: FakeHms;
  let twilio: FakeTwilio;
  let smtp: FakeSmtp;
  let xiaomi: FakeXiaomi;
  let workerPort = 0;
  const apps: INestApplication[] = [];

  const produce = (topic: string, key: string, value: unknown) =>
    producer.send({ topic, messages: [{ key, value: typeof value === 'string' ? value : JSON.stringify(value) }] });
  /**
   * Outbox rows this suite's apps staged whose events are not all published yet (architecture D18);
   * not those an earlier suite left for a relay, which none runs here.
   */
  const suiteStart = new Date();
  const stagedRows = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_outbox WHERE staged_at >= $1`, [suiteStart])).rows[0]!.n;
  const deliveriesOf = async (requestId: string): Promise<DeliveryRow[]> =>
    (
      await db.query<DeliveryRow>(
        `SELECT d.id, d.channel, d.endpoint, d.status, d.attempts, d.last_error, d.next_attempt_at
           FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id = $1
          ORDER BY d.endpoint`,
        [requestId],
      )
    ).rows;
  /** The request's deliveries once each has its outcome event: published after the outcome is stored, unlike the claim's interim `sent`. */
  const settled = async (requestId: string, count = 1): Promise<DeliveryRow[]> => {
    const rows = await eventually(() => deliveriesOf(requestId), (r) => r.length === count && r.every((d) => eventsOf(d.id).length > 0), JOIN_BUDGET);
    return rows.length === 0 ? rows : deliveriesOf(requestId);
  };
  const eventsOf = (deliveryId: string) => events.filter((e) => e.deliveryId === deliveryId);
  /** How long a failed delivery waits, in ms: counted from the database's clock when it was recorded (D16). */
  const waitOf = async (deliveryId: string): Promise<number> =>
    Number((await db.query<{ ms: string }>(`SELECT round(extract(epoch FROM next_attempt_at - updated_at) * 1000) AS ms FROM deliveries WHERE id = $1`, [deliveryId])).rows[0]!.ms);
  const apnsToken = (): string => {
    const token = randomBytes(32).toString('hex');
    personalData.push(token);
    return token;
  };
  const registerDevice = async (userId: string, deviceId: string, provider: string, token: string) => {
    await produce(Topics.recipients, userId, { op: 'device', userId, deviceId, provider, token });
    await eventually(
      async () => (await db.query('SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2 AND token = $3', [userId, deviceId, token])).rowCount,
      (n) => n === 1,
      JOIN_BUDGET,
    );
  };
  const CLICK_SECRET = 'e2e-click-secret-channel-worker-0123456789';
  /** The public URL Twilio is given; the worker sits behind it (a proxy), on its own port here. */
  const TWILIO_CALLBACK = 'https://notify.example/receipts/twilio?region=eu';
  const RECEIPTS_TOKEN = `e2e-receipts-${randomBytes(12).toString('hex')}`;
  const hmsSigned = (signWith?: string) => ({ 'x-huawei-callback-id': hms.receiptCallbackId(signWith) });
  const receiptUrl = (provider: string, query = '') => `http://127.0.0.1:${workerPort}/receipts/${provider}${query}`;
  const postJson = async (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> => {
    const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await answer.text();
    return { status: answer.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  /** A user with a phone number, texted once through Twilio; its delivery once `sent`, and the message Twilio took. */
  const textUser = async (name: string) => {
    const userId = `${name}-${run}`;
    const phone = `+4917${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
    personalData.push(phone);
    await produce(Topics.recipients, userId, { op: 'upsert', userId, phone });
    await eventually(async () => (await db.query('SELECT 1 FROM recipients WHERE user_id = $1', [userId])).rowCount, (n) => n === 1);
    const requestId = `${name}-${run}`;
    await produce(Topics.requests, userId, { id: requestId, type: 'security.alert', to: { userId }, channels: ['sms'], content: { title: 'Code', body: 'Your code is 777' } });
    const [delivery] = await settled(requestId);
    expect(delivery).toMatchObject({ status: 'sent' });
    return { delivery: delivery!, message: twilio.messages.find((m) => m.to === phone)!, requestId };
  };
  const requestPush = async (userId: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const id = `push-${randomBytes(4).toString('hex')}-${run}`;
    await produce(Topics.requests, userId, { id, type: 'security.alert', to: { userId }, channels: ['push'], content: { title: 'New sign-in', body: 'From Berlin' }, ...extra });
    return id;
  };

  /** A queued SMS delivery to `phone` for the user, stored as the message center stores one, and its job. */
  const seedSmsJob = async (userId: string, phone: string, requestId: string): Promise<DeliveryJob> => {
    const created = new Date();
    const [messageId, deliveryId] = [newId(created), newId(created)];
    await db.query(`INSERT INTO messages (id, request_id, type, recipient, created_at, contents) VALUES ($1, $2, 'security.alert', '{}', $3, '{}')`, [messageId, requestId, created]);
    await db.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at) VALUES ($1, $2, $3, 'sms', $4, 'en', 'queued', 0, $5)`,
      [deliveryId, messageId, userId, phone, created],
    );
    const message = { id: messageId, seq: null, type: 'security.alert', title: 'Code', body: 'Your code is 654321', data: {}, createdAt: created.toISOString() };
    return DeliveryJobSchema.parse({ deliveryId, requestId, userId, channel: 'sms', endpoint: phone, attempt: 1, expiresAt: null, priority: 'high', locale: 'en', message });
  };

  beforeAll(async () => {
    [apns, hms, twilio, smtp, xiaomi] = await Promise.all([startFakeApns(), startFakeHms(), startFakeTwilio(), startFakeSmtp(), startFakeXiaomi()]);
    personalData.push(apns.signingKey.split('\n')[1]!, hms.appSecret, hms.receiptCallback.key, twilio.authToken, smtp.password, RECEIPTS_TOKEN, xiaomi.appSecret);
    await db.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();

    const centerEnv = { ...process.env, MESSAGE_CENTER_PORT: '0', MESSAGE_CENTER_GROUP: `e2e-cw-center-${run}` };
    await startGroupsAtTheEnd(kafka, messageCenterGroups(centerEnv.MESSAGE_CENTER_GROUP));
    apps.push(await startMessageCenter(loadMessageCenterConfig(centerEnv), createLogger('e2e', 'warn'), { onFatal: () => undefined }));
    const workerEnv = {
      ...process.env,
      CHANNEL_WORKER_PORT: '0',
      CHANNEL_WORKER_PUSH_GROUP: `e2e-cw-push-${run}`,
      CHANNEL_WORKER_SMS_GROUP: `e2e-cw-sms-${run}`,
      CHANNEL_WORKER_EMAIL_GROUP: `e2e-cw-email-${run}`,
      PUSH_APNS_DRIVER: 'apns',
      PUSH_APNS_BASE_URL: apns.url,
      PUSH_APNS_TEAM_ID: apns.teamId,
      PUSH_APNS_KEY_ID: apns.keyId,
      PUSH_APNS_TOPIC: apns.topic,
      PUSH_APNS_SIGNING_KEY: apns.signingKey,
      PUSH_HMS_DRIVER: 'hms',
      PUSH_HMS_BASE_URL: hms.url,
      PUSH_HMS_TOKEN_URL: hms.tokenUrl,
      PUSH_HMS_APP_ID: hms.appId,
      PUSH_HMS_APP_SECRET: hms.appSecret,
      PUSH_HMS_RECEIPT_USER_NAME: hms.receiptCallback.userName,
      PUSH_HMS_RECEIPT_KEY: hms.receiptCallback.key,
      PUSH_XIAOMI_DRIVER: 'xiaomi',
      PUSH_XIAOMI_BASE_URL: xiaomi.url,
      PUSH_XIAOMI_PACKAGE_NAME: xiaomi.packageName,
      PUSH_XIAOMI_CHANNEL_ID: '101',
      PUSH_XIAOMI_APP_SECRET: xiaomi.appSecret,
      PUSH_XIAOMI_RECEIPT_URL: `https://notify.example/receipts/xiaomi?token=${RECEIPTS_TOKEN}`,
      SMS_DRIVER: 'twilio',
      SMS_TWILIO_BASE_URL: twilio.url,
      SMS_TWILIO_ACCOUNT_SID: twilio.accountSid,
      SMS_TWILIO_AUTH_TOKEN: twilio.authToken,
      SMS_TWILIO_FROM: '+15005550006',
      SMS_TWILIO_STATUS_CALLBACK_URL: TWILIO_CALLBACK,
      CHANNEL_WORKER_RECEIPTS_TOKEN: RECEIPTS_TOKEN,
      EMAIL_DRIVER: 'smtp',
      SMTP_HOST: `${smtp.host}:${smtp.port}`,
      SMTP_USER: smtp.user,
      SMTP_PASSWORD: smtp.password,
      SMTP_FROM: 'Notify <notify@example.com>',
      SMTP_RETURN_PATH: 'bounces@notify.example',
      SMTP_BOUNCE_RECEIPTS: 'true',
      CLICK_SECRET: CLICK_SECRET,
      CLICK_BASE_URL: 'https://notify.example',
    };
    const capture: DestinationStream = { write: (line: string) => void workerLog.push(line) };
    await startGroupsAtTheEnd(kafka, channelWorkerGroups(workerEnv));
    const worker = await startChannelWorker(loadChannelWorkerConfig(workerEnv), createLogger('channel-worker', 'debug', capture), {
      onFatal: () => undefined,
      clock: () => frozenAt ?? new Date(Date.now() + clockOffsetMs),
    });
    apps.push(worker);
    workerPort = listeningPort(worker);
    // After the apps, which create the topics.
    await reader.connect();
    await reader.subscribe({ topics: [Topics.events, Topics.deliver.push], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ topic, message }) => {
        const value = JSON.parse(message.value!.toString()) as unknown;
        if (topic === Topics.events) events.push(OutcomeEventSchema.parse(value));
        else pushJobs.push(value as DeliveryJob);
      },
    });
  });

  afterAll(async () => {
    await reader.disconnect();
    for (const app of apps.reverse()) await app.close();
    await producer.disconnect();
    await db.end();
    await Promise.all([apns.close(), hms.close(), twilio.close(), smtp.close(), xiaomi.close()]);
  });

  afterEach(() => {
    frozenAt = undefined;
    clockOffsetMs = 0;
  });

  describe('vendor push', () => {
    it('pushes through APNs with the token from the database, records `sent` and publishes it', async () => {
      const userId = `apns-${run}`;
      const token = apnsToken();
      await registerDevice(userId, 'iphone', 'apns', token);

      const requestId = await requestPush(userId);
      const [delivery] = await settled(requestId);
      expect(delivery).toMatchObject({ endpoint: `apns:${userId}/iphone`, status: 'sent', attempts: 1, last_error: null, next_attempt_at: null });
      const push = apns.pushes.find((p) => p.token === token);
      expect(push?.headers).toMatchObject({ 'apns-topic': apns.topic, 'apns-push-type': 'alert', 'apns-priority': '10' });
      expect(push?.payload).toMatchObject({ aps: { alert: { title: 'New sign-in', body: 'From Berlin' } }, type: 'security.alert' });
      const job = pushJobs.find((j) => j.deliveryId === delivery!.id)!;
      expect(push?.headers['apns-collapse-id']).toBe(job.message.id);
      const [event] = await eventually(async () => eventsOf(delivery!.id), (e) => e.length > 0);
      expect(event).toMatchObject({ requestId, userId, channel: 'push', status: 'sent', attempt: 1, error: null });
    });

    it('puts the tracked link of the push’s own delivery in its data', async () => {
      const userId = `apns-link-${run}`;
      const token = apnsToken();
      await registerDevice(userId, 'iphone', 'apns', token);

      const requestId = await requestPush(userId, { content: { title: 'Shipped', body: 'Order 1234', url: 'https://shop.example/orders/1234' } });
      const [delivery] = await settled(requestId);
      const push = apns.pushes.find((p) => p.token === token);
      expect(push?.payload).toMatchObject({ url: new ClickLinks(CLICK_SECRET, 'https://notify.example').link(delivery!.id) });
    });

    it('sends one token list to HMS for devices that get the same push', async () => {
      const userId = `hms-${run}`;
      const tokens = [`hms-tablet-${randomBytes(8).toString('hex')}`, `hms-phone-${randomBytes(8).toString('hex')}`];
      personalData.push(...tokens);
      await registerDevice(userId, 'tablet', 'hms', tokens[0]!);
      await registerDevice(userId, 'phone', 'hms', tokens[1]!);

      const requestId = await requestPush(userId);
      const rows = await settled(requestId, 2);
      expect(rows.map((r) => r.status)).toEqual(['sent', 'sent']);
      const batches = hms.batches.filter((b) => b.tokens.some((t) => tokens.includes(t)));
      expect(batches.map((b) => [...b.tokens].sort())).toEqual([[...tokens].sort()]);
    });

    it('gives up on tokens the vendor calls dead, deactivates those devices, and the next request has no push for them', async () => {
      const userId = `dead-${run}`;
      const [bad, gone] = [apnsToken(), apnsToken()];
      await registerDevice(userId, 'bad', 'apns', bad);
      await registerDevice(userId, 'gone', 'apns', gone);
      apns.markBad(bad);
      apns.unregister(gone);

      const first = await settled(await requestPush(userId), 2);
      expect(first.map(({ endpoint, status, last_error }) => ({ endpoint, status, last_error }))).toEqual([
        { endpoint: `apns:${userId}/bad`, status: 'dead', last_error: 'invalid_endpoint' },
        { endpoint: `apns:${userId}/gone`, status: 'dead', last_error: 'endpoint_gone' },
      ]);
      const devices = await db.query('SELECT device_id, active, deactivated_reason FROM devices WHERE user_id = $1 ORDER BY device_id', [userId]);
      expect(devices.rows).toEqual([
        { device_id: 'bad', active: false, deactivated_reason: 'apns: BadDeviceToken' },
        { device_id: 'gone', active: false, deactivated_reason: 'apns: Unregistered' },
      ]);
      await eventually(async () => first.flatMap((d) => eventsOf(d.id)).map((e) => e.status), (s) => s.join() === 'dead,dead');

      const pushesBefore = apns.pushes.length;
      const second = await settled(await requestPush(userId));
      expect(second).toEqual([expect.objectContaining({ endpoint: `none:${userId}`, status: 'dead', last_error: 'no_endpoint' })]);
      expect(apns.pushes.length).toBe(pushesBefore);
    });

    it('retries a push to a throttled device no earlier than the Retry-After APNs named', async () => {
      const userId = `limited-${run}`;
      await registerDevice(userId, 'iphone', 'apns', apnsToken());
      frozenAt = new Date(Math.floor(Date.now() / 1000) * 1000);
      apns.failNext({ status: 429, reason: 'TooManyRequests', retryAfterSeconds: 120 });

      const [delivery] = await settled(await requestPush(userId));
      // Too many pushes to this one device (APNs's 429): the device waits, no circuit counts it.
      expect(delivery).toMatchObject({ status: 'failed', last_error: 'deferred', attempts: 1 });
      expect(await waitOf(delivery!.id)).toBe(120_000);
      const [event] = await eventually(async () => eventsOf(delivery!.id), (e) => e.length > 0);
      expect(event).toMatchObject({ status: 'failed', error: 'deferred' });
    });

    it('holds a push refused for bad credentials for an hour, with an alert in the log and a metric', async () => {
      const userId = `creds-${run}`;
      await registerDevice(userId, 'iphone', 'apns', apnsToken());
      frozenAt = new Date(Math.floor(Date.now() / 1000) * 1000);
      apns.failNext({ status: 403, reason: 'InvalidProviderToken' });

      const [delivery] = await settled(await requestPush(userId));
      expect(delivery).toMatchObject({ status: 'failed', last_error: 'bad_credentials' });
      expect(await waitOf(delivery!.id)).toBe(3_600_000);
      const alert = workerLog.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.alert === 'provider_configuration' && l.channel === 'push');
      expect(alert).toMatchObject({ level: 50, provider: 'apns', code: 'bad_credentials', vendorCode: 'InvalidProviderToken' });
      const metrics = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
      expect(metrics).toMatch(/notify_channel_configuration_errors_total\{[^}]*channel="push"[^}]*provider="apns"[^}]*code="bad_credentials"[^}]*\} 1/);
    });

    it('sends a job consumed twice only once', async () => {
      const userId = `twice-${run}`;
      const token = apnsToken();
      await registerDevice(userId, 'iphone', 'apns', token);
      const [first] = await settled(await requestPush(userId));
      const job = await eventually(async () => pushJobs.find((j) => j.deliveryId === first!.id), Boolean);

      await produce(Topics.deliver.push, userId, job);
      // A later job of the same user, on the same partition, shows the copy has been consumed.
      const [later] = await settled(await requestPush(userId));
      expect(later!.status).toBe('sent');
      expect(apns.pushes.filter((p) => (p.payload as { messageId?: string }).messageId === job!.message.id)).toHaveLength(1);
      expect((await db.query('SELECT attempts FROM deliveries WHERE id = $1', [first!.id])).rows).toEqual([{ attempts: 1 }]);
      expect(eventsOf(first!.id).map((e) => e.status)).toEqual(['sent']);
    });

    it('expires a job that arrives after its expiry instead of sending it', async () => {
      const userId = `late-${run}`;
      const token = apnsToken();
      await registerDevice(userId, 'iphone', 'apns', token);
      clockOffsetMs = 2 * 3_600_000;

      const [delivery] = await settled(await requestPush(userId, { expiresAt: new Date(Date.now() + 3_600_000).toISOString() }));
      expect(delivery).toMatchObject({ status: 'expired', attempts: 0 });
      expect(apns.pushes.filter((p) => p.token === token)).toEqual([]);
      const [event] = await eventually(async () => eventsOf(delivery!.id), (e) => e.length > 0);
      expect(event).toMatchObject({ status: 'expired', channel: 'push' });
      // Published, so out of the outbox: the relay has nothing to publish again.
      expect(await eventually(stagedRows, (n) => n === 0)).toBe(0);
    });
  });

  describe('SMS and email', () => {
    it('texts a user through Twilio, and gives up on a number that opted out', async () => {
      const userId = `sms-${run}`;
      const phone = `+4915${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
      const optedOut = `+4916${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
      personalData.push(phone, optedOut);
      await produce(Topics.recipients, userId, { op: 'upsert', userId, phone });
      await eventually(async () => (await db.query('SELECT 1 FROM recipients WHERE user_id = $1', [userId])).rowCount, (n) => n === 1);
      twilio.optOut(optedOut);

      const requestId = `sms-${run}`;
      await produce(Topics.requests, userId, { id: requestId, type: 'security.alert', to: { userId }, channels: ['sms'], content: { title: 'Code', body: 'Your code is 123456' } });
      const [delivery] = await settled(requestId);
      expect(delivery).toMatchObject({ status: 'sent', last_error: null });
      expect(twilio.messages.filter((m) => m.to === phone)).toEqual([expect.objectContaining({ body: 'Your code is 123456', from: '+15005550006' })]);

      const stopRequest = `sms-stop-${run}`;
      await produce(Topics.requests, stopRequest, { id: stopRequest, type: 'security.alert', to: { phone: optedOut }, channels: ['sms'], content: { body: 'Hello' } });
      const [stopped] = await settled(stopRequest);
      expect(stopped).toMatchObject({ status: 'dead', last_error: 'endpoint_gone' });
    });

    it('mails a bare address over SMTP with text and HTML bodies, and gives up on a mailbox the server refuses', async () => {
      const address = `mail-${run}@example.com`;
      const refused = `nobody-${run}@example.com`;
      personalData.push(address, refused);
      smtp.rejectRecipient(refused, 550, 'No such user');

      const requestId = `mail-${run}`;
      await produce(Topics.requests, requestId, { id: requestId, type: 'security.alert', to: { email: address }, channels: ['email'], content: { title: 'New sign-in', body: 'From <Berlin>' } });
      const [delivery] = await settled(requestId);
      expect(delivery).toMatchObject({ channel: 'email', status: 'sent' });
      const mail = smtp.mails.find((m) => m.to.includes(address));
      expect(mail?.raw).toContain('Subject: New sign-in');
      expect(mail?.raw).toContain('text/html');
      // Header names are case-insensitive; nodemailer writes `…-ID`.
      expect(mail?.raw.toLowerCase()).toContain(`x-notify-delivery-id: ${delivery!.id}`);

      const refusedRequest = `mail-refused-${run}`;
      await produce(Topics.requests, refusedRequest, { id: refusedRequest, type: 'security.alert', to: { email: refused }, channels: ['email'], content: { title: 'Hi' } });
      const [dead] = await settled(refusedRequest);
      expect(dead).toMatchObject({ status: 'dead', last_error: 'invalid_endpoint' });
      expect(await eventually(stagedRows, (n) => n === 0)).toBe(0);
    });

    it('texts no number its user has given up since the message was planned, and ends that delivery no_endpoint', async () => {
      const userId = `moved-${run}`;
      const [oldPhone, newPhone] = ['+4915', '+4916'].map((prefix) => `${prefix}${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`) as [string, string];
      personalData.push(oldPhone, newPhone);
      await produce(Topics.recipients, userId, { op: 'upsert', userId, phone: newPhone });
      await eventually(async () => (await db.query('SELECT 1 FROM recipients WHERE user_id = $1 AND phone = $2', [userId, newPhone])).rowCount, (n) => n === 1);

      // Two jobs of the user, as a retry or a scheduled send brings them: one planned before the
      // number changed, one after.
      const jobs = await Promise.all([oldPhone, newPhone].map((phone, i) => seedSmsJob(userId, phone, `moved-${i}-${run}`)));
      await producer.send({ topic: Topics.deliver.sms, messages: jobs.map((job) => ({ key: userId, value: JSON.stringify(job) })) });

      const rows = await eventually(
        async () => (await db.query<DeliveryRow>(`SELECT id, status, last_error FROM deliveries WHERE id = ANY($1)`, [jobs.map((job) => job.deliveryId)])).rows,
        (r) => r.length === 2 && r.every((d) => eventsOf(d.id).length > 0),
        JOIN_BUDGET,
      );
      const byId = new Map(rows.map((row) => [row.id, [row.status, row.last_error]]));
      expect(jobs.map((job) => byId.get(job.deliveryId))).toEqual([['dead', 'no_endpoint'], ['sent', null]]);
      expect(twilio.messages.filter((m) => m.to === oldPhone)).toEqual([]);
      expect(twilio.messages.filter((m) => m.to === newPhone)).toEqual([expect.objectContaining({ body: 'Your code is 654321' })]);
    });

    it('copies a record that is not a delivery job to the topic’s dead-letter topic and goes on', async () => {
      const key = `junk-${run}`;
      await produce(Topics.deliver.sms, key, '{"not": "a job"}');
      // A bare number's job is keyed by its request id: this one follows the junk in its partition.
      const phone = `+4917${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
      personalData.push(phone);
      await produce(Topics.requests, key, { id: key, type: 'security.alert', to: { phone }, channels: ['sms'], content: { body: 'After the junk' } });

      const [delivery] = await settled(key);
      expect(delivery).toMatchObject({ status: 'sent', last_error: null });
      expect(twilio.messages.filter((m) => m.to === phone)).toEqual([expect.objectContaining({ body: 'After the junk' })]);
      const dead = await readAllRecords(`${Topics.deliver.sms}.dlq`, key);
      expect(dead.map((copy) => copy.headers)).toEqual([expect.objectContaining({ 'x-error-code': 'schema_violation', 'x-original-topic': Topics.deliver.sms })]);
    });
  });

  describe('delivery receipts', () => {
    it("makes a text delivered when Twilio's signed status callback says so, and takes no forged one", async () => {
      const { delivery, message, requestId } = await textUser('receipt-delivered');
      expect(message.statusCallback).toBe(TWILIO_CALLBACK);

      expect(await twilio.reportStatus(message, { status: 'delivered', postTo: receiptUrl('twilio'), signWith: 'not-the-auth-token' })).toBe(403);
      expect((await deliveriesOf(requestId))[0]).toMatchObject({ status: 'sent' });

      expect(await twilio.reportStatus(message, { status: 'delivered', postTo: receiptUrl('twilio', '?region=eu') })).toBe(200);
      expect((await deliveriesOf(requestId))[0]).toMatchObject({ status: 'delivered', last_error: null, next_attempt_at: null });
      const delivered = await eventually(async () => eventsOf(delivery.id).filter((e) => e.status === 'delivered'), (e) => e.length > 0);
      expect(delivered).toEqual([expect.objectContaining({ requestId, channel: 'sms', status: 'delivered', attempt: 1, error: null })]);
      await eventually(stagedRows, (n) => n === 0);
    });

    it('leaves a text its receipt calls undelivered failed for the resend poller, gives up on an unknown number, and ignores a repeated receipt', async () => {
      const off = await textUser('receipt-off');
      const unknown = await textUser('receipt-unknown');
      const callback = (status: Omit<TwilioStatus, 'postTo'>): TwilioStatus => ({ ...status, postTo: receiptUrl('twilio', '?region=eu') });

      expect(await twilio.reportStatus(off.message, callback({ status: 'sent' }))).toBe(200);
      expect((await deliveriesOf(off.requestId))[0]).toMatchObject({ status: 'sent' });
      // 30003: unreachable destination handset (switched off); 30005: unknown destination handset.
      expect(await twilio.reportStatus(off.message, callback({ status: 'undelivered', errorCode: 30003 }))).toBe(200);
      expect(await twilio.reportStatus(unknown.message, callback({ status: 'undelivered', errorCode: 30005 }))).toBe(200);
      // The resend poller gives a failure without a retry time the route's backoff.
      expect((await deliveriesOf(off.requestId))[0]).toMatchObject({ status: 'failed', last_error: 'undelivered', next_attempt_at: null });
      expect((await deliveriesOf(unknown.requestId))[0]).toMatchObject({ status: 'dead', last_error: 'invalid_endpoint' });
      await eventually(async () => [...eventsOf(off.delivery.id), ...eventsOf(unknown.delivery.id)], (e) => e.length === 4);

      const updatedAt = async () => (await db.query<{ t: string }>(`SELECT updated_at::text AS t FROM deliveries WHERE id = $1`, [off.delivery.id])).rows[0]!.t;
      const before = await updatedAt();
      expect(await twilio.reportStatus(off.message, callback({ status: 'failed', errorCode: 30008 }))).toBe(200);
      expect(await updatedAt()).toBe(before);
      expect(eventsOf(off.delivery.id).map((e) => e.status)).toEqual(['sent', 'failed']);
      expect(eventsOf(unknown.delivery.id).map((e) => e.status)).toEqual(['sent', 'dead']);
    });

    it("makes one device of an HMS token list delivered from Push Kit's receipt, signed with AppGallery Connect's callback key only", async () => {
      const userId = `hms-receipt-${run}`;
      const tokens = [`hms-receipt-tablet-${randomBytes(8).toString('hex')}`, `hms-receipt-phone-${randomBytes(8).toString('hex')}`];
      personalData.push(...tokens);
      await registerDevice(userId, 'tablet', 'hms', tokens[0]!);
      await registerDevice(userId, 'phone', 'hms', tokens[1]!);
      const requestId = await requestPush(userId);
      const [phone, tablet] = await settled(requestId, 2);
      const batch = hms.batches.find((b) => b.tokens.includes(tokens[0]!))!;
      const receipt = { statuses: [{ requestId: batch.requestId, token: tokens[0], status: 0, timestamp: Date.now() - 1_000 }] };

      expect((await postJson(receiptUrl('hms'), receipt)).status).toBe(403);
      // With a callback key set, the installation's token is not enough: only Push Kit's signature is.
      expect((await postJson(receiptUrl('hms', `?token=${RECEIPTS_TOKEN}`), receipt)).status).toBe(403);
      expect((await postJson(receiptUrl('hms'), receipt, hmsSigned('another-callback-key-0123'))).status).toBe(403);
      expect((await postJson(receiptUrl('hms'), { statuses: 'none' }, hmsSigned())).status).toBe(400);
      expect(await postJson(receiptUrl('hms'), receipt, hmsSigned())).toEqual({ status: 200, body: { code: 0, msg: 'ok' } });

      const rows = await deliveriesOf(requestId);
      expect(rows.find((r) => r.id === tablet!.id)).toMatchObject({ endpoint: `hms:${userId}/tablet`, status: 'delivered' });
      expect(rows.find((r) => r.id === phone!.id)).toMatchObject({ endpoint: `hms:${userId}/phone`, status: 'sent' });
      const [{ delivered_at }] = (await db.query<{ delivered_at: Date }>('SELECT delivered_at FROM deliveries WHERE id = $1', [tablet!.id])).rows;
      expect(delivered_at.getTime()).toBe(receipt.statuses[0]!.timestamp);

      // Push Kit's state 2: the app is not installed on the phone any more (a receipt of the second version).
      const uninstalled = { statuses: [{ requestId: batch.requestId, token: tokens[1], pushType: 0, deliveryStatus: { result: 2, timestamp: Date.now() } }] };
      expect((await postJson(receiptUrl('hms'), uninstalled, hmsSigned())).status).toBe(200);
      expect((await deliveriesOf(requestId)).find((r) => r.id === phone!.id)).toMatchObject({ status: 'dead', last_error: 'endpoint_gone' });
      const devices = await db.query<{ device_id: string; active: boolean }>('SELECT device_id, active FROM devices WHERE user_id = $1 ORDER BY device_id', [userId]);
      expect(devices.rows).toEqual([
        { device_id: 'phone', active: false },
        { device_id: 'tablet', active: true },
      ]);
    });

    it("makes a Mi Push delivery delivered, and another's invalid target dead with its device deactivated, from the receipts of the callback each push names", async () => {
      const userId = `xiaomi-receipt-${run}`;
      const regids = [`mi-receipt-a-${randomBytes(8).toString('hex')}`, `mi-receipt-b-${randomBytes(8).toString('hex')}`];
      personalData.push(...regids);
      await registerDevice(userId, 'a', 'xiaomi', regids[0]!);
      await registerDevice(userId, 'b', 'xiaomi', regids[1]!);
      const requestId = await requestPush(userId);
      const [a, b] = await settled(requestId, 2);
      const sent = xiaomi.messages.find((m) => m.regids.includes(regids[0]!))!;
      expect(sent.form.get('extra.callback')).toBe(`https://notify.example/receipts/xiaomi?token=${RECEIPTS_TOKEN}`);

      // Mi Push posts a form whose `data` is JSON keyed by message id: type 1 delivered, 16 not a valid target.
      const data = JSON.stringify({ [sent.id]: { type: 1, targets: regids[0] }, [`${sent.id}x`]: { type: 16, targets: regids[1] } });
      const wrongMessage = await fetch(receiptUrl('xiaomi', `?token=${RECEIPTS_TOKEN}`), { method: 'POST', body: new URLSearchParams({ data }) });
      expect(wrongMessage.status).toBe(200);
      expect((await deliveriesOf(requestId)).map((r) => r.status)).toEqual(['delivered', 'sent']);
      const invalid = JSON.stringify({ [sent.id]: { type: 16, targets: regids[1] } });
      expect((await fetch(receiptUrl('xiaomi', `?token=${RECEIPTS_TOKEN}`), { method: 'POST', body: new URLSearchParams({ data: invalid }) })).status).toBe(200);

      const rows = await deliveriesOf(requestId);
      expect(rows.find((r) => r.id === a!.id)).toMatchObject({ endpoint: `xiaomi:${userId}/a`, status: 'delivered' });
      expect(rows.find((r) => r.id === b!.id)).toMatchObject({ endpoint: `xiaomi:${userId}/b`, status: 'dead', last_error: 'invalid_endpoint' });
      const devices = await db.query<{ device_id: string; active: boolean }>('SELECT device_id, active FROM devices WHERE user_id = $1 ORDER BY device_id', [userId]);
      expect(devices.rows).toEqual([
        { device_id: 'a', active: true },
        { device_id: 'b', active: false },
      ]);
    });

    /** Mails a bare address each; their deliveries once `sent`, and a poster of bounces to the receipts endpoint. */
    const mailEach = async (name: string, count: number) => {
      const addresses = Array.from({ length: count }, (_, i) => `${name}-${i}-${run}@example.com`);
      personalData.push(...addresses);
      for (const address of addresses) {
        await produce(Topics.requests, address, { id: `${address}-req`.replace('@', '.'), type: 'security.alert', to: { email: address }, channels: ['email'], content: { title: 'New sign-in' } });
      }
      const deliveries = await Promise.all(addresses.map(async (address) => (await settled(`${address}-req`.replace('@', '.')))[0]!));
      return { addresses, deliveries, mails: addresses.map((address) => smtp.mails.find((m) => m.to.includes(address))!) };
    };
    const postMail = async (mail: string, query = `?token=${RECEIPTS_TOKEN}`) => {
      const answer = await fetch(receiptUrl('smtp', query), { method: 'POST', headers: { 'content-type': 'message/rfc822' }, body: mail });
      await answer.arrayBuffer();
      return answer.status;
    };
    const deliveryRow = async (id: string) => (await db.query<DeliveryRow>(`SELECT id, status, last_error, next_attempt_at FROM deliveries WHERE id = $1`, [id])).rows[0];

    it("makes a mail whose bounce says the mailbox does not exist dead, and one a full mailbox bounced failed, from bounces posted with the installation's token", async () => {
      const { addresses, deliveries, mails } = await mailEach('bounce', 2);
      const [gone, full] = deliveries as [DeliveryRow, DeliveryRow];
      // The envelope sender is the return path, where the mail system sends its bounces.
      expect(mails[0]!.from).toBe('bounces@notify.example');

      const unknownMailbox = bounceOf(mails[0]!, { status: '5.1.1', diagnostic: `smtp; 550 5.1.1 <${addresses[0]}>: Recipient address rejected: User unknown` });
      expect(await postMail(unknownMailbox, '')).toBe(403);
      expect(await postMail(unknownMailbox)).toBe(200);
      expect(await postMail(bounceOf(mails[1]!, { status: '5.2.2', diagnostic: 'smtp; 552 5.2.2 Mailbox full', returns: 'message' }))).toBe(200);
      // An out-of-office reply to the return path is no report: taken, and it changes nothing.
      expect(await postMail(['From: someone@example.com', 'To: bounces@notify.example', 'Subject: Out of office', '', 'Back on Monday.', ''].join('\r\n'))).toBe(200);

      expect(await deliveryRow(gone.id)).toMatchObject({ status: 'dead', last_error: 'invalid_endpoint' });
      expect(await deliveryRow(full.id)).toMatchObject({ status: 'failed', last_error: 'undelivered', next_attempt_at: null });
      const statuses = await eventually(async () => [gone, full].map((d) => eventsOf(d.id).map((e) => e.status).join()), (s) => s.every((e) => e.split(',').length === 2));
      expect(statuses).toEqual(['sent,dead', 'sent,failed']);
    });

    it('keeps a mail our own DMARC got bounced for the configuration retry, with one alert a minute, and no alert for a bounce of no mail of ours', async () => {
      const { deliveries, mails } = await mailEach('dmarc', 3);
      const dmarcOf = (mail: SmtpMail) => bounceOf(mail, { status: '5.7.26', diagnostic: "smtp; 550-5.7.26 Unauthenticated email from notify.example is not accepted due to domain's DMARC policy" });
      const alerts = () => workerLog.filter((line) => line.includes('"alert":"provider_configuration"'));
      const alertsBefore = alerts().length;

      // Anyone can mail the return path: a bounce naming no send of ours raises nothing.
      expect(await postMail(dmarcOf({ ...mails[0]!, raw: mails[0]!.raw.replace(/^(Message-ID: <)/im, '$1forged-') }))).toBe(200);
      expect(alerts().length).toBe(alertsBefore);

      const receivedAt = Date.now();
      expect(await postMail(dmarcOf(mails[0]!))).toBe(200);
      expect(alerts().length).toBe(alertsBefore + 1);
      const row = await deliveryRow(deliveries[0]!.id);
      expect(row).toMatchObject({ status: 'failed', last_error: 'misconfigured' });
      // Retried when an operator may have fixed it (CHANNEL_WORKER_CONFIGURATION_RETRY_MS, an hour), not at the route's backoff.
      expect(row!.next_attempt_at!.getTime()).toBeGreaterThanOrEqual(receivedAt + 3_600_000 - 1_000);

      // Such a setup bounces every mail: one alert a minute, counting the bounces since the last.
      expect(await postMail(dmarcOf(mails[1]!))).toBe(200);
      expect(alerts().length).toBe(alertsBefore + 1);
      clockOffsetMs = 61_000;
      expect(await postMail(dmarcOf(mails[2]!))).toBe(200);
      expect(alerts().length).toBe(alertsBefore + 2);
      expect(alerts().at(-1)).toContain('"receipts":2');
      const statuses = await eventually(async () => deliveries.map((d) => eventsOf(d.id).map((e) => e.status).join()), (s) => s.every((e) => e.split(',').length === 2));
      expect(statuses).toEqual(['sent,failed', 'sent,failed', 'sent,failed']);
    });

    it('takes no receipts from a vendor it has none from: APNs, or an SMS vendor other than the configured one', async () => {
      expect((await postJson(receiptUrl('apns', `?token=${RECEIPTS_TOKEN}`), { statuses: [] })).status).toBe(404);
      expect((await postJson(receiptUrl('aliyun', `?token=${RECEIPTS_TOKEN}`), [])).status).toBe(404);
    });
  });

  it('answers GET /health', async () => {
    expect((await fetch(`http://127.0.0.1:${workerPort}/health`)).status).toBe(200);
  });

  it('never writes a phone number, an email address, a device token or a credential to its log', () => {
    const log = workerLog.join('');
    // The capture works: the log holds the deliveries it handled (by id), and the provider message ids.
    expect(log).toContain('provider accepted the message');
    expect(personalData.length).toBeGreaterThan(10);
    expect(personalData.filter((value) => log.includes(value))).toEqual([]);
  });
});
