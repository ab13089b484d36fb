import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Partitioners } from 'kafkajs';
import { Client } from 'pg';
import { startChannelWorker } from '@notify/channel-worker';
import { loadChannelWorkerConfig, loadMessageCenterConfig } from '@notify/config';
import { Topics } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger } from '@notify/observability';
import { eventually, startFakeSmtp, type FakeSmtp } from '@notify/testing';
import { messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

/** A deploy of the channel worker while a batch of mail is going out over one slow SMTP connection. */
describe('channel worker shutdown', () => {
  const run = randomBytes(4).toString('hex');
  const kafka = testKafka();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  let smtp: FakeSmtp;
  let center: INestApplication;

  beforeAll(async () => {
    smtp = await startFakeSmtp();
    await db.connect();
    await producer.connect();
    await startGroupsAtTheEnd(testKafka(), messageCenterGroups(`e2e-cws-center-${run}`));
    center = await startMessageCenter(loadMessageCenterConfig({ ...process.env, MESSAGE_CENTER_PORT: '0', MESSAGE_CENTER_GROUP: `e2e-cws-center-${run}` }), createLogger('e2e', 'warn'), {
      onFatal: () => undefined,
    });
  });
  afterAll(async () => {
    await center.close();
    await producer.disconnect();
    await db.end();
    await smtp.close();
  });

  it('sends and records the chunk in hand and claims no more, leaving the rest queued for the next owner', async () => {
    const userId = `mailbox-${run}`;
    await producer.send({ topic: Topics.recipients, messages: [{ key: userId, value: JSON.stringify({ op: 'upsert', userId, email: `${userId}@example.com` }) }] });
    await eventually(async () => (await db.query(`SELECT 1 FROM recipients WHERE user_id = $1`, [userId])).rowCount, (n) => n === 1);
    // 150 mails to one user: one partition, sent in claims of up to 100 (after any mail of other
    // suites still queued, which the worker's new group reads from the beginning of the topic).
    await producer.send({
      topic: Topics.requests,
      messages: Array.from({ length: 150 }, (_, i) => ({
        key: userId,
        value: JSON.stringify({ id: `mail-${run}-${i}`, type: 'account.note', to: { userId }, channels: ['email'], content: { title: `m${i}` } }),
      })),
    });
    const emailDeliveries = async () =>
      (await db.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM deliveries WHERE user_id = $1 AND channel = 'email'`, [userId])).rows;
    await eventually(emailDeliveries, (rows) => rows.length === 150);

    smtp.dataDelayMs = 50;
    const worker = await startChannelWorker(
      loadChannelWorkerConfig({
        ...process.env,
        CHANNEL_WORKER_PORT: '0',
        CHANNEL_WORKER_PUSH_GROUP: `e2e-cws-push-${run}`,
        CHANNEL_WORKER_SMS_GROUP: `e2e-cws-sms-${run}`,
        CHANNEL_WORKER_EMAIL_GROUP: `e2e-cws-email-${run}`,
        EMAIL_DRIVER: 'smtp',
        SMTP_HOST: `${smtp.host}:${smtp.port}`,
        SMTP_USER: smtp.user,
        SMTP_PASSWORD: smtp.password,
        SMTP_FROM: 'Notify <notify@example.com>',
        SMTP_MAX_CONNECTIONS: '1',
      }),
      createLogger('e2e', 'silent'),
      { onFatal: () => undefined },
    );
    // The worker's new group also reads other suites' mail from the shared topic: only this
    // mailbox's mails count.
    const mailbox = () => smtp.mails.filter((mail) => mail.to.includes(`${userId}@example.com`));
    await eventually(async () => mailbox().length, (n) => n > 0, { timeoutMs: 60_000 });
    await worker.close();

    const rows = await emailDeliveries();
    const sent = rows.filter((row) => row.status === 'sent');
    const queued = rows.filter((row) => row.status === 'queued' && row.attempts === 0);
    // The claims in hand went out and were recorded, every mail with its outcome; the rest was never
    // claimed. (How many were in hand depends on how the other suites' mail ahead cut the chunks.)
    expect(sent.length + queued.length).toBe(150);
    expect(queued.length).toBeGreaterThan(0);
    expect(mailbox()).toHaveLength(sent.length);
  }, 120_000);
});
