import { randomBytes } from 'node:crypto';
import { Module, type INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ClickLinks } from '@notify/contracts';
import { APP_LOGGER, createLogger, listeningPort, startHttpApp } from '@notify/observability';
import { createDataSource, DeliveryOutcomeStore, newId, poolOf } from '@notify/persistence';
import { eventually } from '@notify/testing';
import { EventPublisher } from '../delivery/event-publisher';
import { flakyProducer } from '../testing/doubles';
import { CLICK_LINKS } from './click-links';
import { ClickController } from './click.controller';
import { CLICKS_WAITING_PER_WRITER, ClickWrites } from './click-writes';

/**
 * `GET /c/{token}` over HTTP, on a real database with a pool of 4: clicks write in a quarter of it
 * (one connection) with `CLICKS_WAITING_PER_WRITER` waiting, and any click past them is answered 503 at once.
 */
describe('ClickController and the database pool', () => {
  const applicationName = `click-spec-${randomBytes(4).toString('hex')}`;
  const links = new ClickLinks('click-controller-spec-secret-0123456789abcdef', 'https://notify.example');
  const logger = createLogger('click-controller-int-spec', 'silent');
  let dataSource: DataSource;
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    dataSource = await createDataSource({ databaseUrl: process.env.DATABASE_URL!, databasePoolSize: 4, applicationName }).initialize();
    @Module({
      controllers: [ClickController],
      providers: [
        { provide: CLICK_LINKS, useValue: links },
        { provide: DataSource, useValue: dataSource },
        { provide: DeliveryOutcomeStore, useValue: new DeliveryOutcomeStore(dataSource) },
        { provide: EventPublisher, useValue: new EventPublisher(flakyProducer(0).producer, logger) },
        { provide: APP_LOGGER, useValue: logger },
        ClickWrites,
      ],
    })
    class ClickSpecModule {}
    app = await startHttpApp(ClickSpecModule, { port: 0, host: '127.0.0.1', logger });
    base = `http://127.0.0.1:${listeningPort(app)}`;
  });
  afterAll(async () => {
    await app?.close();
    await dataSource?.destroy();
  });

  /** A message with a link, and two browser deliveries of it sent and waiting for their acknowledgement. */
  async function sentBrowserDeliveries(): Promise<[string, string]> {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const ids: [string, string] = [newId(createdAt), newId(createdAt)];
    await dataSource.query(`INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1, $2, 't', '{}', $3, $4)`, [
      messageId,
      `r-${messageId}`,
      { en: { title: 't', body: 'b', url: 'https://example.com/order/1' } },
      createdAt,
    ]);
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at)
       VALUES ($1, $3, 'u1', 'websocket', 'inbox:u1', 'en', 'sent', 1, $4), ($2, $3, 'u2', 'websocket', 'inbox:u2', 'en', 'sent', 1, $4)`,
      [...ids, messageId, createdAt],
    );
    return ids;
  }

  /** This app's connections waiting for a lock. */
  const waitingOnLocks = async () =>
    (await dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [applicationName]))[0]!.n;

  it('answers clicks past their share of the pool and its waiting list 503 with Retry-After, and an acknowledgement still gets a connection', async () => {
    const [clicked, acknowledged] = await sentBrowserDeliveries();
    const url = `${base}/c/${links.link(clicked).split('/c/')[1]}`;
    // Another session holds the clicked delivery's row: the clicks that reach the database wait on it.
    const locker = new Client({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE', [clicked]);
    const answered: Response[] = [];
    const letIn = 1 + CLICKS_WAITING_PER_WRITER;
    const clicks = Array.from({ length: letIn + 4 }, () => fetch(url, { redirect: 'manual' }).then((response) => (answered.push(response), response)));
    try {
      // One click writes (waiting on the lock) and the waiting list fills; the other four are refused at once.
      await eventually(async () => answered.length, (n) => n >= 4, { timeoutMs: 10_000 });
      expect(answered.map((response) => [response.status, response.headers.get('retry-after'), response.headers.get('cache-control')])).toEqual(
        Array.from({ length: 4 }, () => [503, '1', 'no-store']),
      );
      expect(await answered[0]!.text()).toContain('http-equiv="refresh" content="1"');
      await eventually(waitingOnLocks, (n) => n >= 1);
      const pool = poolOf(dataSource);
      expect({ inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount, onLocks: await waitingOnLocks() }).toEqual({ inUse: 1, waiting: 0, onLocks: 1 });

      // The browser's acknowledgement of another delivery is written meanwhile.
      const recorded = await new DeliveryOutcomeStore(dataSource).record([{ deliveryId: acknowledged, status: 'delivered', error: null, attempt: 1 }]);
      expect(recorded.map((event) => [event.deliveryId, event.status])).toEqual([[acknowledged, 'delivered']]);
    } finally {
      await locker.query('COMMIT');
      await locker.end();
      await Promise.allSettled(clicks);
    }

    // Those let in are recorded and redirected once the lock is gone.
    const statuses = (await Promise.all(clicks)).map((response) => [response.status, response.headers.get('location')]);
    expect(statuses.filter(([status]) => status === 302)).toEqual(Array.from({ length: letIn }, () => [302, 'https://example.com/order/1']));
    const [row] = await dataSource.query<{ status: string }[]>(`SELECT status FROM deliveries WHERE id = $1`, [clicked]);
    expect(row).toEqual({ status: 'clicked' });
    // With the clicks' share free again, the next click is let in.
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(302);
  });
});
