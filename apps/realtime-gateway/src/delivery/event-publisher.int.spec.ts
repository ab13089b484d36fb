import { Kafka, logLevel, Partitioners, type Producer, type ProducerBatch } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { Topics } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';
import { createLogger } from '@notify/observability';
import { createDataSource, DeliveryOutcomeStore, newId, runMigrations, type RecordedOutcome } from '@notify/persistence';
import { createTestDatabase, jsonOf, recordsOn, type TestDatabase } from '@notify/testing';
import { instantRetry } from '../testing/doubles';
import { EventPublisher } from './event-publisher';

/**
 * The publisher and the outbox (architecture D18): acknowledgements recorded in one write stage
 * their events in one outbox row; the row goes once the last of them is published, whatever produce
 * calls they went in, and stays for the relay when some of them were dropped.
 */
describe('EventPublisher and the outbox', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  const logger = createLogger('event-publisher-int-spec', 'silent');
  const outboxRows = async () => (await dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM event_outbox`))[0]!.n;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
    kafka = new Kafka({ clientId: 'event-publisher-int-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
    await ensureTopics(kafka, [Topics.events], { partitions: 3, replicationFactor: 1 });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await dataSource.destroy();
    await database.drop();
  });
  beforeEach(async () => {
    await dataSource.query(`DELETE FROM event_outbox`);
  });

  /** `through`, its produce calls counted and each held until `open()` (a broker away for a while). */
  function gated(through: Producer): { producer: Producer; open: () => void; calls: () => number } {
    let calls = 0;
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const sendBatch = async (batch: ProducerBatch) => {
      calls += 1;
      await opened;
      return through.sendBatch(batch);
    };
    return { producer: { ...through, sendBatch }, open, calls: () => calls };
  }

  /** The events of `events`' deliveries on notify.events, as the broker has them now. */
  async function published(events: RecordedOutcome[]): Promise<{ deliveryId: string; status: string }[]> {
    const ids = new Set(events.map((event) => event.deliveryId));
    return (await recordsOn(kafka, Topics.events))
      .map((value) => jsonOf(value) as RecordedOutcome | undefined)
      .flatMap((event) => (event && ids.has(event.deliveryId) ? [{ deliveryId: event.deliveryId, status: event.status }] : []));
  }

  /** `count` acknowledgements of browser deliveries sent on their first attempt, recorded in one write; returns its events. */
  async function recordedAcknowledgements(count: number) {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const ids = Array.from({ length: count }, () => newId(createdAt));
    await dataSource.query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [messageId, `r-${messageId}`, createdAt]);
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at)
       SELECT d, $2, 'u-' || n, 'websocket', 'inbox:u-' || n, 'en', 'sent', 1, $3 FROM unnest($1::uuid[]) WITH ORDINALITY AS x(d, n)`,
      [ids, messageId, createdAt],
    );
    return new DeliveryOutcomeStore(dataSource).record(ids.map((deliveryId) => ({ deliveryId, status: 'delivered', error: null, attempt: 1 })));
  }

  it('takes a write’s row out of the outbox once all its events are published, over two produce calls', async () => {
    const events = await recordedAcknowledgements(600);
    expect(await outboxRows()).toBe(1);
    const broker = gated(producer);
    const publisher = new EventPublisher(broker.producer, logger, instantRetry(3));

    publisher.publish(events, 'recording acknowledgements');
    broker.open();
    await publisher.settled();

    expect(broker.calls()).toBe(2);
    const sent = await published(events);
    expect(sent).toHaveLength(600);
    expect(new Set(sent.map((event) => event.deliveryId)).size).toBe(600);
    expect(new Set(sent.map((event) => event.status))).toEqual(new Set(['delivered']));
    expect(await outboxRows()).toBe(0);
  });

  it('leaves the row to the relay when its produce failed every try', async () => {
    const events = await recordedAcknowledgements(3);
    // A producer that is not connected: kafkajs refuses every produce call.
    const broker = gated(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }));
    broker.open();
    const publisher = new EventPublisher(broker.producer, logger, instantRetry(2));

    publisher.publish(events, 'recording acknowledgements');
    await publisher.settled();

    expect(broker.calls()).toBe(2);
    expect(await published(events)).toEqual([]);
    expect(await outboxRows()).toBe(1);
  });

  it('leaves the row to the relay when some of its events were dropped for want of room', async () => {
    const events = await recordedAcknowledgements(20);
    const broker = gated(producer);
    const publisher = new EventPublisher(broker.producer, logger, instantRetry(3), { maxHeld: 5, drainTimeoutMs: 60_000, dropLogEveryMs: 60_000 });

    publisher.publish(events, 'recording acknowledgements');
    broker.open();
    await publisher.settled();

    expect(await published(events)).toHaveLength(5);
    const [row] = await dataSource.query<{ events: { deliveryId: string }[] }[]>(`SELECT events FROM event_outbox`);
    expect(row!.events.map((e) => e.deliveryId)).toEqual(events.map((e) => e.deliveryId));
  });
});
