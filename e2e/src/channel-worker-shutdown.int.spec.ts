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
import { channelWorkerGroups, messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

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

  it('finishes and records the sends begun, gives back those of the chunk in hand not begun, and claims no more', async () => {
    const userId = `mailbox-${run}`;
    const workerEnv = {
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
    };
    // Only this suite's mail: the chunk in hand is this mailbox's first 100.
    await startGroupsAtTheEnd(testKafka(), channelWorkerGroups(workerEnv));
    await producer.send({ topic: Topics.recipients, messages: [{ key: userId, value: JSON.stringify({ op: 'upsert', userId, email: `${userId}@example.com` }) }] });
    await eventually(async () => (await db.query(`SELECT 1 FROM recipients WHERE user_id = $1`, [userId])).rowCount, (n) => n === 1);
    // 150 mails to one user: one partition, sent in claims of up to 100.
    await producer.send({
      topic: Topics.requests,
      messages: Array.from({ length: 150 }, (_, i) => ({
        key: userId,
        value: JSON.stringify({ id: `mail-${run}-${i}`, type: 'account.note', to: { userId }, channels: ['email'], content: { title: `m${i}` } }),
      })),
    });
    const emailDeliveries = async () =>
      (await db.query<{ status: string; attempts: number; last_error: string | null; due: boolean }>(
        `SELECT status, attempts, last_error, next_attempt_at <= now() AS due FROM deliveries WHERE user_id = $1 AND channel = 'email'`,
        [userId],
      )).rows;
    await eventually(emailDeliveries, (rows) => rows.length === 150);

    smtp.dataDelayMs = 50;
    const worker = await startChannelWorker(loadChannelWorkerConfig(workerEnv), createLogger('e2e', 'silent'), { onFatal: () => undefined });
    const mailbox = () => smtp.mails.filter((mail) => mail.to.includes(`${userId}@example.com`));
    await eventually(async () => mailbox().length, (n) => n > 0, { timeoutMs: 60_000 });
    await worker.close();

    const rows = await emailDeliveries();
    const sent = rows.filter((row) => row.status === 'sent');
    const givenBack = rows.filter((row) => row.status === 'failed');
    const queued = rows.filter((row) => row.status === 'queued' && row.attempts === 0);
    // Each mail begun went out and was recorded; the rest of the chunk in hand was never sent, and
    // is due again at once, its attempt given back; the rest of the batch was never claimed.
    expect(sent.length + givenBack.length + queued.length).toBe(150);
    expect(mailbox()).toHaveLength(sent.length);
    expect(givenBack.length).toBeGreaterThan(0);
    expect(givenBack).toEqual(givenBack.map(() => ({ status: 'failed', attempts: 0, last_error: 'overloaded', due: true })));
    expect(queued.length).toBeGreaterThan(0);
  }, 120_000);
});
