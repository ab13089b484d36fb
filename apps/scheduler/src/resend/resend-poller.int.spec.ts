import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { Topics } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';
import { createLogger, Metrics } from '@notify/observability';
import { createDataSource, newId, ResendStore, runMigrations } from '@notify/persistence';
import { createTestDatabase, type TestDatabase } from '@notify/testing';
import { ResendPoller } from './resend-poller';

const NOW = new Date('2030-07-01T12:00:00Z');

/**
 * One poll against a real database and broker. A claim looks for receivers among a bounded number
 * of due rows, so a receiver with many due messages can fill a claim's search: the poll must go on
 * claiming until a claim finds nothing, not stop at the first claim that found fewer receivers than
 * it asked for, or the other receivers would wait for the next poll while the backlog lasts.
 */
describe('ResendPoller', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let producer: Producer;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
    const kafka = new Kafka({ clientId: 'resend-poller-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
    await ensureTopics(kafka, [Topics.deliver.websocket, Topics.events], { partitions: 3, replicationFactor: 1 });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await dataSource.destroy();
    await database.drop();
  });

  /** `count` failed websocket deliveries of one user, due `dueMsAgo` before NOW (null: not scheduled yet). */
  async function seedDue(userId: string, count: number, dueMsAgo: number | null): Promise<void> {
    const created = new Date(NOW.getTime() - 3_600_000);
    const messageIds = Array.from({ length: count }, () => newId(created));
    await dataSource.query(
      `INSERT INTO messages (id, request_id, type, recipient, contents, created_at)
       SELECT m, 'r-' || m, 't', '{}', '{"en":{"title":"t","body":"b"}}', $2 FROM unnest($1::uuid[]) AS m`,
      [messageIds, created],
    );
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, last_error, next_attempt_at, created_at, seq)
       SELECT d, m, $2::varchar, 'websocket', 'inbox:' || $2::varchar, 'en', 'failed', 1, 'ack_timeout', $3, $4, s
         FROM unnest($1::uuid[], $5::uuid[]) WITH ORDINALITY AS x(m, d, s)`,
      [messageIds, userId, dueMsAgo === null ? null : new Date(NOW.getTime() - dueMsAgo), created, messageIds.map(() => newId(created))],
    );
  }

  /** A poller whose claims take `receivers` receivers, and whose scheduling takes ten times as many deliveries. */
  const pollerClaiming = (receivers: number) =>
    new ResendPoller(
      new ResendStore(dataSource),
      producer,
      { pollIntervalMs: 60_000, resendLeaseMs: 60_000, resendReceiversPerClaim: receivers },
      () => NOW,
      () => 0.5,
      createLogger('resend-poller-spec', 'silent'),
      new Metrics(`resend-poller-spec-${receivers}`),
    );

  it('claims every due receiver in one poll, though one receiver fills a claim’s search', async () => {
    // Two receivers per claim look at 40 due rows: the first claim's rows are all the heavy user's.
    await seedDue('u-heavy', 60, 60_000);
    await seedDue('u-light-1', 3, 1_000);
    await seedDue('u-light-2', 3, 1_000);
    await seedDue('u-light-3', 3, 1_000);
    const poller = pollerClaiming(2);

    expect(await poller.poll()).toBe(60 + 3 * 3);
    const [{ left }] = await dataSource.query(`SELECT count(*)::int AS left FROM deliveries WHERE status = 'failed'`);
    expect(left).toBe(0);
    expect(await poller.poll()).toBe(0);
  });

  it('schedules every newly failed delivery in one poll, chunk after chunk, though none of them ends', async () => {
    // Three receivers per claim schedule 30 deliveries per statement; 75 failed without a next attempt.
    for (const userId of ['u-new-1', 'u-new-2', 'u-new-3']) await seedDue(userId, 25, null);
    await pollerClaiming(3).poll();
    const [{ unscheduled, scheduled }] = await dataSource.query(
      `SELECT count(*) FILTER (WHERE next_attempt_at IS NULL)::int AS unscheduled, count(*) FILTER (WHERE next_attempt_at > $1)::int AS scheduled
         FROM deliveries WHERE user_id LIKE 'u-new-%' AND status = 'failed'`,
      [NOW],
    );
    expect({ unscheduled, scheduled }).toEqual({ unscheduled: 0, scheduled: 75 });
  });
});
