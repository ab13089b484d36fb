import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Partitioners, type Consumer, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { io, type Socket } from 'socket.io-client';
import { OutcomeEventSchema, REALTIME_NAMESPACE, Topics, type OutcomeEvent } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';
import { eventually, freePort } from '@notify/testing';
import { AppProcess } from './app-process';
import { startGroupsAtTheEnd, testKafka } from './kafka-admin';
import { ownDatabase } from './own-database';
import { seedWebsocketJob } from './websocket-job';

const ACK_TIMEOUT_MS = 4_000;
const OUTCOME_GRACE_MS = 1_000;

/**
 * A gateway process claims a delivery (`queued` → `sent`), emits it to a client that has not
 * acknowledged yet, and is killed with SIGKILL: neither the acknowledgement nor its timeout will
 * ever be recorded. Once the claim's lease has run out the resend poller takes the send for lost,
 * publishes `failed` (`ack_timeout`), and sends it again; the user, now connected to another
 * gateway, receives and acknowledges it. The apps work on a database of the suite's own (`ownDatabase`).
 */
describe('a gateway killed between its claim and the acknowledgement', () => {
  const database = ownDatabase();
  const run = randomBytes(4).toString('hex');
  const secret = randomBytes(24).toString('hex');
  const userId = `gateway-crash-${run}`;
  let db: Client;
  const kafka = testKafka();
  const events: OutcomeEvent[] = [];
  const processes: AppProcess[] = [];
  const sockets: Socket[] = [];
  let producer: Producer;
  let consumer: Consumer;

  const start = async (main: string, env: (port: number) => Record<string, string>): Promise<{ app: AppProcess; port: number }> => {
    const port = await freePort();
    const app = new AppProcess(main, { LOG_LEVEL: 'warn', DATABASE_URL: database.url(), ...env(port) }, port);
    processes.push(app);
    await app.start();
    return { app, port };
  };
  const gateway = async (name: string) => {
    await startGroupsAtTheEnd(kafka, [{ groupId: `e2e-gateway-crash-${name}-${run}`, topic: Topics.deliver.websocket }]);
    return start('apps/realtime-gateway/src/main.ts', (port) => ({
      GATEWAY_PORT: String(port),
      JWT_SECRET: secret,
      GATEWAY_GROUP: `e2e-gateway-crash-${name}-${run}`,
      GATEWAY_CLUSTER_ADAPTER: 'none',
      GATEWAY_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
      GATEWAY_OUTCOME_GRACE_MS: String(OUTCOME_GRACE_MS),
      // The lease of a 4 s acknowledgement timeout and a 1 s grace leaves room for a window of 4 s at
      // most (the default 7 s would be shortened to it); the clients here connect before any job is produced.
      GATEWAY_RECONNECT_WINDOW_MS: '2000',
    }));
  };

  /** A client of the user that keeps the ids it receives, and acknowledges them only when told to. */
  const client = async (port: number, acknowledges: boolean): Promise<string[]> => {
    const token = jwt.sign({ sub: userId }, secret, { algorithm: 'HS256', expiresIn: '1h' });
    const socket = io(`http://127.0.0.1:${port}${REALTIME_NAMESPACE}`, { auth: { token }, transports: ['websocket'], reconnection: false });
    sockets.push(socket);
    const received: string[] = [];
    const take = (messages: { id: string }[], ack: (reply: unknown) => void) => {
      received.push(...messages.map((m) => m.id));
      if (acknowledges) ack({ ok: true });
    };
    socket.on('notification', (message: { id: string }, ack: (reply: unknown) => void) => take([message], ack));
    socket.on('notifications', (messages: { id: string }[], ack: (reply: unknown) => void) => take(messages, ack));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return received;
  };

  beforeAll(async () => {
    db = new Client({ connectionString: database.url() });
    await db.connect();
    await ensureTopics(kafka, [Topics.deliver.websocket, Topics.events], { partitions: 3, replicationFactor: 1 });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    consumer = kafka.consumer({ groupId: `e2e-gateway-crash-events-${run}` });
    await consumer.connect();
    await consumer.subscribe({ topic: Topics.events, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = OutcomeEventSchema.parse(JSON.parse(message.value!.toString('utf8')));
        if (event.userId === userId) events.push(event);
      },
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    for (const app of processes) await app.stop('SIGKILL');
    await consumer?.disconnect();
    await producer?.disconnect();
    await db?.end();
    await database.drop();
  });

  const row = async (deliveryId: string) =>
    (
      await db.query<{ status: string; attempts: number; next_attempt_at: Date | null; updated_at: Date; delivered_at: Date | null; last_error: string | null }>(
        `SELECT status, attempts, next_attempt_at, updated_at, delivered_at, last_error FROM deliveries WHERE id = $1`,
        [deliveryId],
      )
    ).rows[0]!;

  it('sends the delivery again once the lease has run out, and it is acknowledged once', async () => {
    const job = await seedWebsocketJob((sql, params) => db.query(sql, params), userId, {
      requestId: `gateway-crash-${run}`,
      seq: 1,
      retry: { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 100 },
    });
    const { deliveryId } = job;
    const messageId = job.message.id;

    const first = await gateway('first');
    const silent = await client(first.port, false);
    await producer.send({ topic: Topics.deliver.websocket, messages: [{ key: userId, value: JSON.stringify(job) }] });
    await eventually(async () => silent, (ids) => ids.includes(messageId));
    expect(await first.app.stop('SIGKILL')).toBeNull();
    const claimed = await row(deliveryId);
    expect(claimed).toMatchObject({ status: 'sent', attempts: 1, delivered_at: null });
    // The lease, from the claim: a wait for the cluster to settle and one for the acknowledgement
    // (the acknowledgement timeout each), and the grace to record the outcome.
    expect(claimed.next_attempt_at!.getTime() - claimed.updated_at.getTime()).toBe(2 * ACK_TIMEOUT_MS + OUTCOME_GRACE_MS);

    const second = await gateway('second');
    const acknowledging = await client(second.port, true);
    await start('apps/scheduler/src/main.ts', (port) => ({ SCHEDULER_PORT: String(port), SCHEDULER_POLL_INTERVAL_MS: '200' }));

    const delivered = await eventually(() => row(deliveryId), (r) => r.status === 'delivered', { timeoutMs: 60_000 });
    expect(delivered.attempts).toBe(2);
    expect(delivered.delivered_at!.getTime()).toBeGreaterThanOrEqual(claimed.next_attempt_at!.getTime());
    expect(acknowledging).toEqual([messageId]);
    const outcomes = await eventually(
      async () => events.filter((e) => e.messageId === messageId).map((e) => ({ status: e.status, attempt: e.attempt, error: e.error })),
      (seen) => seen.some((e) => e.status === 'delivered'),
    );
    expect(outcomes).toEqual([
      { status: 'failed', attempt: 1, error: 'ack_timeout' },
      { status: 'delivered', attempt: 2, error: null },
    ]);
    // The gateway and the scheduler each published what they staged and took it out of the outbox.
    const staged = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_outbox`)).rows[0]!.n;
    expect(await eventually(staged, (n) => n === 0)).toBe(0);
  }, 360_000);
});
