import type { Producer } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { createLogger, Metrics } from '@notify/observability';
import { AFTER_COMMIT_RETRY, createDataSource, runMigrations } from '@notify/persistence';
import { createTestDatabase, type TestDatabase } from '@notify/testing';
import { OutboxRelay } from './outbox-relay';

/** A database of its own: the rows left in its outbox must not reach another test's relay. */
describe('OutboxRelay', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  it('shows the age of the oldest event waiting though the broker refuses every produce of the relay', async () => {
    const event = { requestId: 'r', messageId: 'm', deliveryId: 'd', userId: 'u', channel: 'sms', status: 'expired', error: null, attempt: 0, at: '2030-07-01T12:00:00.000Z' };
    await dataSource.query(`INSERT INTO event_outbox (events, staged_at) VALUES ($1::json, now() - interval '1 hour')`, [JSON.stringify([event])]);
    const refusing = {
      sendBatch: async () => {
        throw new Error('the broker refused the produce');
      },
    } as unknown as Producer;
    const metrics = new Metrics('outbox-relay-spec');
    const relay = new OutboxRelay(dataSource, refusing, { pollIntervalMs: 60_000, outboxRelayAfterMs: 60_000 }, createLogger('outbox-relay-spec', 'silent'), metrics, {
      ...AFTER_COMMIT_RETRY,
      maxAttempts: 1,
    });

    await expect(relay.relay()).rejects.toThrow('the broker refused the produce');

    const oldest = await metrics.registry.getSingleMetric('notify_outbox_oldest_event_seconds')!.get();
    expect(oldest.values[0]!.value).toBeGreaterThanOrEqual(3_600);
  });
});
