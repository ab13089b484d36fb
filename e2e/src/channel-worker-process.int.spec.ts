import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { loadMessageCenterConfig } from '@notify/config';
import { Topics } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger } from '@notify/observability';
import { eventually, freePort } from '@notify/testing';
import { AppProcess } from './app-process';
import { channelWorkerGroups, messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

/** The channel worker as `npm start` runs it: its own process, no vendor account, the log drivers. */
describe('channel worker process with the default drivers', () => {
  const run = randomBytes(4).toString('hex');
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  let producer: Producer;
  let center: INestApplication;
  let worker: AppProcess;

  beforeAll(async () => {
    await db.connect();
    const env = { ...process.env, MESSAGE_CENTER_PORT: '0', MESSAGE_CENTER_GROUP: `e2e-cwp-center-${run}` };
    await startGroupsAtTheEnd(testKafka(), messageCenterGroups(env.MESSAGE_CENTER_GROUP));
    center = await startMessageCenter(loadMessageCenterConfig(env), createLogger('e2e', 'warn'), { onFatal: () => undefined });
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const port = await freePort();
    const workerEnv = {
      CHANNEL_WORKER_PORT: String(port),
      CHANNEL_WORKER_PUSH_GROUP: `e2e-cwp-push-${run}`,
      CHANNEL_WORKER_SMS_GROUP: `e2e-cwp-sms-${run}`,
      CHANNEL_WORKER_EMAIL_GROUP: `e2e-cwp-email-${run}`,
      LOG_LEVEL: 'info',
    };
    await startGroupsAtTheEnd(testKafka(), channelWorkerGroups(workerEnv));
    worker = new AppProcess('apps/channel-worker/src/main.ts', workerEnv, port);
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await producer?.disconnect();
    await center?.close();
    await db.end();
  });

  it('starts healthy and sends through the log driver, logging the number only masked', async () => {
    expect(await worker.health()).toBe(200);
    const phone = `+8613${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`;
    const requestId = `log-sms-${run}`;
    await producer.send({
      topic: Topics.requests,
      messages: [{ key: requestId, value: JSON.stringify({ id: requestId, type: 'security.alert', to: { phone }, channels: ['sms'], content: { body: 'Hello' } }) }],
    });
    const status = await eventually(
      async () =>
        (
          await db.query<{ status: string }>('SELECT d.status FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id = $1', [requestId])
        ).rows[0]?.status,
      (s) => s === 'sent',
      // On a fresh broker and a busy machine a consumer's first group join can take a while.
      { timeoutMs: 60_000 },
    );
    expect(status).toBe('sent');
    await eventually(async () => worker.output, (output) => output.includes('SMS accepted by the log driver'));
    expect(worker.output).toContain(`${phone.slice(0, 3)}${'*'.repeat(phone.length - 5)}${phone.slice(-2)}`);
    expect(worker.output).not.toContain(phone);
  });
});
