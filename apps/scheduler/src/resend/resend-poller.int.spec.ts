import { Kafka, logLevel, Partitioners, type Producer, type ProducerBatch } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { DeliveryBatchSchema, OutcomeEventSchema, Topics } from '@notify/contracts';
import { ensureTopics, MAX_CHUNK_MESSAGES } from '@notify/kafka';
import { createLogger, Metrics } from '@notify/observability';
import { AFTER_COMMIT_RETRY, createDataSource, newId, ResendStore, runMigrations } from '@notify/persistence';
import { createTestDatabase, jsonOf, recordsOn, type TestDatabase } from '@notify/testing';
import { OutboxRelay } from '../outbox/outbox-relay';
import { ResendPoller, type ResendSettings } from './resend-poller';

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
  let kafka: Kafka;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
    kafka = new Kafka({ clientId: 'resend-poller-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
    await ensureTopics(kafka, [Topics.deliver.websocket, Topics.events], { partitions: 3, replicationFactor: 1 });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await dataSource.destroy();
    await database.drop();
  });

  /**
   * `count` failed websocket deliveries of one user, due `dueMsAgo` before NOW (null: not scheduled
   * yet), expiring at `expiresAt`; returns their ids.
   */
  async function seedDue(userId: string, count: number, dueMsAgo: number | null, expiresAt: Date | null = null): Promise<string[]> {
    const created = new Date(NOW.getTime() - 3_600_000);
    const messageIds = Array.from({ length: count }, () => newId(created));
    await dataSource.query(
      `INSERT INTO messages (id, request_id, type, recipient, contents, created_at)
       SELECT m, 'r-' || m, 't', '{}', '{"en":{"title":"t","body":"b"}}', $2 FROM unnest($1::uuid[]) AS m`,
      [messageIds, created],
    );
    const ids = messageIds.map(() => newId(created));
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, last_error, next_attempt_at, created_at, seq, expires_at)
       SELECT d, m, $2::varchar, 'websocket', 'inbox:' || $2::varchar, 'en', 'failed', 1, 'ack_timeout', $3, $4, s, $6
         FROM unnest($1::uuid[], $5::uuid[]) WITH ORDINALITY AS x(m, d, s)`,
      [messageIds, userId, dueMsAgo === null ? null : new Date(NOW.getTime() - dueMsAgo), created, ids, expiresAt],
    );
    return ids;
  }

  /** The delivery ids of the events in each outbox row. */
  const outboxRows = async () =>
    (await dataSource.query<{ events: { deliveryId: string }[] }[]>(`SELECT events FROM event_outbox ORDER BY id`)).map((row) => row.events.map((e) => e.deliveryId));

  /** The produce calls a poller made through `calls`, those `failing` says refused by a broker gone away. */
  function recording(calls: ProducerBatch[], failing: (call: number, batch: ProducerBatch) => boolean = () => false): Producer {
    return {
      ...producer,
      sendBatch: async (batch: ProducerBatch) => {
        calls.push(batch);
        if (failing(calls.length, batch)) throw new Error('broker gone away');
        return producer.sendBatch(batch);
      },
    };
  }

  /**
   * A poller whose claims take `receivers` receivers, and whose scheduling takes ten times as many
   * deliveries; what it produces is tried again at once.
   */
  const pollerClaiming = (receivers: number, through = producer, settings: Partial<ResendSettings> = {}) =>
    new ResendPoller(
      new ResendStore(dataSource),
      through,
      { pollIntervalMs: 60_000, resendLeaseMs: 60_000, resendReceiversPerClaim: receivers, ...settings },
      () => NOW,
      () => 0.5,
      createLogger('resend-poller-spec', 'silent'),
      new Metrics(`resend-poller-spec-${receivers}`),
      { ...AFTER_COMMIT_RETRY, sleep: async () => undefined },
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

  it('publishes an event once when a produce of several chunks fails in its second and is tried again', async () => {
    // 600 deliveries past their expiry: one schedule ends them all, 600 events in two produce calls.
    const expired = new Set(await seedDue('u-expired', 600, null, new Date(NOW.getTime() - 1)));
    const calls: ProducerBatch[] = [];
    await pollerClaiming(100, recording(calls, (call) => call === 2)).poll();

    const events = (await recordsOn(kafka, Topics.events)).map((value) => OutcomeEventSchema.parse(JSON.parse(value))).filter((e) => expired.has(e.deliveryId!));
    expect(events.filter((e) => e.status === 'expired')).toHaveLength(600);
    expect(new Set(events.map((e) => e.deliveryId)).size).toBe(600);
    // Published: nothing is left in the outbox for the relay.
    expect(await outboxRows()).toEqual([]);
  });

  it('leaves the events of a poll that could not publish them to the outbox relay, which publishes them', async () => {
    // Past its expiry: the claim ends it, and every produce of its event is refused until the poll gives up on it.
    const [lateId] = await seedDue('u-outbox', 1, 1_000, new Date(NOW.getTime() - 1));
    await expect(pollerClaiming(100, recording([], () => true)).poll()).resolves.toBe(0);
    expect((await outboxRows()).flat()).toEqual([lateId]);
    const relayAfter = (outboxRelayAfterMs: number, metrics: Metrics) =>
      new OutboxRelay(dataSource, producer, { pollIntervalMs: 60_000, outboxRelayAfterMs }, createLogger('resend-poller-spec', 'silent'), metrics);
    const oldestSeconds = async (metrics: Metrics) => (await metrics.registry.getSingleMetric('notify_outbox_oldest_event_seconds')!.get()).values[0]!.value;
    // Left to its writer for an hour: not published yet, and the gauge shows it waiting.
    const patient = new Metrics('outbox-relay-spec-patient');
    expect(await relayAfter(3_600_000, patient).relay()).toBe(0);
    expect(await oldestSeconds(patient)).toBeGreaterThan(0);
    const metrics = new Metrics('outbox-relay-spec');

    expect(await relayAfter(0, metrics).relay()).toBe(1);
    expect(await oldestSeconds(metrics)).toBe(0);

    const events = (await recordsOn(kafka, Topics.events)).map((value) => OutcomeEventSchema.parse(JSON.parse(value))).filter((e) => e.deliveryId === lateId);
    expect(events).toEqual([expect.objectContaining({ status: 'expired', attempt: 1, error: null, at: NOW.toISOString() })]);
    expect(await outboxRows()).toEqual([]);
  });

  it('goes on resending while notify.events refuses the round’s events, leaving them to the outbox relay', async () => {
    const [lateId] = await seedDue('u-events-down-late', 1, 1_000, new Date(NOW.getTime() - 1));
    const due = await seedDue('u-events-down', 3, 1_000);
    const calls: ProducerBatch[] = [];
    const eventsRefused = (_call: number, batch: ProducerBatch) => batch.topicMessages!.some((t) => t.topic === Topics.events);

    expect(await pollerClaiming(100, recording(calls, eventsRefused)).poll()).toBe(3);
    const jobs = calls.flatMap((c) => c.topicMessages!).filter((t) => t.topic !== Topics.events).flatMap((t) => t.messages);
    expect(jobs.flatMap((m) => (JSON.parse(String(m.value)) as { batch: { deliveryId: string }[] }).batch.map((j) => j.deliveryId)).sort()).toEqual([...due].sort());
    expect((await outboxRows()).flat()).toContain(lateId);
  });

  it('produces a claim a slice of at most 500 jobs at a time, and every job of it reaches its topic', async () => {
    const ids = new Set<string>();
    for (const userId of ['u-slice-1', 'u-slice-2', 'u-slice-3']) for (const id of await seedDue(userId, 400, 1_000)) ids.add(id);
    const calls: ProducerBatch[] = [];
    expect(await pollerClaiming(100, recording(calls)).poll()).toBe(1_200);

    const jobsOf = (value: string) => DeliveryBatchSchema.parse(JSON.parse(value)).batch;
    const produced = calls.map((call) => call.topicMessages!.flatMap((t) => t.messages).flatMap((m) => jobsOf(String(m.value))).length);
    expect(Math.max(...produced)).toBeLessThanOrEqual(MAX_CHUNK_MESSAGES);
    // The topic also holds single jobs other tests produced: only resend batches are read.
    const batches = (await recordsOn(kafka, Topics.deliver.websocket)).map((value) => DeliveryBatchSchema.safeParse(jsonOf(value))).filter((read) => read.success);
    const onTopic = batches.flatMap((read) => read.data.batch).filter((job) => ids.has(job.deliveryId));
    expect(onTopic.map((job) => job.deliveryId).sort()).toEqual([...ids].sort());
  });
});
