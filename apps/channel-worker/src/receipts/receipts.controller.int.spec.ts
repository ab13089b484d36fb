import { randomBytes } from 'node:crypto';
import { Module, type INestApplication } from '@nestjs/common';
import type { Producer, TopicMessages } from 'kafkajs';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadChannelWorkerConfig } from '@notify/config';
import { KAFKA_PRODUCER } from '@notify/kafka';
import { APP_LOGGER, createLogger, listeningPort, Metrics, startHttpApp } from '@notify/observability';
import { ChannelDeliveryStore, createDataSource, DeliveryOutcomeStore, newId, poolOf } from '@notify/persistence';
import { eventually } from '@notify/testing';
import { WORKER_CLOCK, WORKER_SETTINGS } from '../delivery/channel-workers';
import { DeliveryReport } from '../delivery/delivery-report';
import { ChannelProviders } from '../providers/channel-providers';
import { receiptKey } from './receipt-keys';
import { RECEIPTS_WAITING_PER_WRITER, ReceiptsController } from './receipts.controller';

/**
 * `POST /receipts/{provider}` over HTTP, on a real database with a pool of 4: receipts write in a
 * quarter of it (one connection) with `RECEIPTS_WAITING_PER_WRITER` waiting, and any request past them is answered
 * 503 at once, so the record of sends still finds a connection during a storm of receipts.
 */
describe('ReceiptsController and the database pool', () => {
  const applicationName = `receipts-spec-${randomBytes(4).toString('hex')}`;
  const token = `receipts-spec-${randomBytes(8).toString('hex')}`;
  const logger = createLogger('receipts-controller-int-spec', 'silent');
  const metrics = new Metrics(applicationName);
  const config = loadChannelWorkerConfig({
    DATABASE_URL: process.env.DATABASE_URL,
    DATABASE_POOL_SIZE: '4',
    CHANNEL_WORKER_CHANNELS: 'sms',
    CHANNEL_WORKER_RECEIPTS_TOKEN: token,
    SMS_DRIVER: 'aliyun',
    SMS_ALIYUN_ACCESS_KEY_ID: 'spec-access-key-id',
    SMS_ALIYUN_ACCESS_KEY_SECRET: 'spec-access-key-secret',
    SMS_ALIYUN_SIGN_NAME: 'Spec',
    SMS_ALIYUN_TEMPLATE_CODE: 'SMS_0001',
  });
  const accepted: TopicMessages[] = [];
  const producer = { sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => (accepted.push(...topicMessages), []) } as unknown as Producer;
  let dataSource: DataSource;
  let providers: ChannelProviders;
  let app: INestApplication;
  let receiptsUrl: string;

  beforeAll(async () => {
    dataSource = await createDataSource({ ...config, applicationName }).initialize();
    providers = new ChannelProviders(config, { log: logger });
    @Module({
      controllers: [ReceiptsController],
      providers: [
        { provide: ChannelProviders, useValue: providers },
        { provide: ChannelDeliveryStore, useValue: new ChannelDeliveryStore(dataSource) },
        { provide: KAFKA_PRODUCER, useValue: producer },
        { provide: WORKER_SETTINGS, useValue: config },
        { provide: WORKER_CLOCK, useValue: () => new Date() },
        { provide: APP_LOGGER, useValue: logger },
        { provide: Metrics, useValue: metrics },
        DeliveryReport,
      ],
    })
    class ReceiptsSpecModule {}
    app = await startHttpApp(ReceiptsSpecModule, { port: 0, host: '127.0.0.1', logger });
    receiptsUrl = `http://127.0.0.1:${listeningPort(app)}/receipts/aliyun?token=${token}`;
  });
  afterAll(async () => {
    await app?.close();
    await providers?.onApplicationShutdown();
    await dataSource?.destroy();
  });

  /** Two texts accepted by Aliyun (sent, with their receipt keys), and a third claimed and waiting for its record. */
  async function sentTexts(): Promise<{ reported: string; bizId: string; claimed: string }> {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const [reported, claimed] = [newId(createdAt), newId(createdAt)];
    const bizId = `biz-${randomBytes(6).toString('hex')}`;
    await dataSource.query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [messageId, `r-${messageId}`, createdAt]);
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, receipt_key, created_at)
       VALUES ($1, $3, 'u1', 'sms', 'phone:1', 'en', 'sent', 1, $4, $5), ($2, $3, 'u2', 'sms', 'phone:2', 'en', 'queued', 0, NULL, $5)`,
      [reported, claimed, messageId, receiptKey('aliyun', bizId), createdAt],
    );
    return { reported, bizId, claimed };
  }

  /** This app's connections waiting for a lock. */
  const waitingOnLocks = async () =>
    (await dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [applicationName]))[0]!.n;

  const busyCount = async () => (await metrics.registry.getSingleMetric('notify_channel_receipts_total')!.get()).values.find((v) => v.labels.result === 'busy')?.value ?? 0;

  it('answers receipts past their share of the pool and its waiting list 503 with Retry-After, counted busy, and a send is still claimed meanwhile', async () => {
    const { reported, bizId, claimed } = await sentTexts();
    const report = [{ biz_id: bizId, success: true, err_code: 'DELIVERED', report_time: '2026-01-01 00:00:00' }];
    // Another session holds the reported delivery's row: the receipts that reach the database wait on it.
    const locker = new Client({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE', [reported]);
    const answered: Response[] = [];
    const post = () => fetch(receiptsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(report) });
    const letIn = 1 + RECEIPTS_WAITING_PER_WRITER;
    const requests = Array.from({ length: letIn + 4 }, () => post().then((response) => (answered.push(response), response)));
    try {
      // One request writes (waiting on the lock) and the waiting list fills; the other four are refused at once.
      await eventually(async () => answered.length, (n) => n >= 4, { timeoutMs: 10_000 });
      expect(answered.map((response) => [response.status, response.headers.get('retry-after')])).toEqual(Array.from({ length: 4 }, () => [503, '1']));
      expect(await busyCount()).toBe(4);
      await eventually(waitingOnLocks, (n) => n >= 1);
      const pool = poolOf(dataSource);
      expect({ inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount, onLocks: await waitingOnLocks() }).toEqual({ inUse: 1, waiting: 0, onLocks: 1 });

      // A chunk's claim of its sends is written meanwhile.
      const claims = await new DeliveryOutcomeStore(dataSource).claimSends([claimed], 60_000);
      expect([...claims.keys()]).toEqual([claimed]);
    } finally {
      await locker.query('COMMIT');
      await locker.end();
      await Promise.allSettled(requests);
    }

    // Those let in are taken once the lock is gone.
    const statuses = (await Promise.all(requests)).map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toEqual(Array.from({ length: letIn }, () => 200));
    const [row] = await dataSource.query<{ status: string }[]>(`SELECT status FROM deliveries WHERE id = $1`, [reported]);
    expect(row).toEqual({ status: 'delivered' });
    // With the receipts' share free again, the next request is taken.
    expect((await post()).status).toBe(200);
  });
});
