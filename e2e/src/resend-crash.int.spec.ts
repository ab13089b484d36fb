import { randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { Client } from 'pg';
import { Topics, WebsocketDeliverySchema } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';
import { newId } from '@notify/persistence';
import { eventually, freePort, jsonOf } from '@notify/testing';
import { AppProcess } from './app-process';
import { ownDatabase } from './own-database';
import { testKafka } from './kafka-admin';

const RECEIVERS = 4;
const PER_RECEIVER = 5;

/**
 * Two scheduler processes as production runs them: the first claims every due delivery and is
 * killed with SIGKILL while its lease holds them; the second sends them all once the lease has run
 * out. Nothing is lost, and each receiver's messages still travel as one batch.
 * The schedulers work on a database of the suite's own (`ownDatabase`).
 */
describe('resend after a poller is killed holding its claims', () => {
  const database = ownDatabase();
  const run = randomBytes(4).toString('hex');
  let db: Client;
  const seeded = new Map<string, string[]>();
  const received: { userId: string; deliveryIds: string[]; producedAt: number }[] = [];
  let consumer: Consumer;
  let first: AppProcess | undefined;
  let second: AppProcess | undefined;

  const scheduler = async (leaseMs: number): Promise<AppProcess> => {
    const port = await freePort();
    const env = { DATABASE_URL: database.url(), SCHEDULER_PORT: String(port), SCHEDULER_POLL_INTERVAL_MS: '200', SCHEDULER_RESEND_LEASE_MS: String(leaseMs), LOG_LEVEL: 'warn' };
    const process = new AppProcess('apps/scheduler/src/main.ts', env, port);
    await process.start();
    return process;
  };

  beforeAll(async () => {
    db = new Client({ connectionString: database.url() });
    await db.connect();
    const now = Date.now();
    for (let r = 0; r < RECEIVERS; r++) {
      const userId = `crash-${run}-${r}`;
      const ids: string[] = [];
      for (let i = 0; i < PER_RECEIVER; i++) {
        const created = new Date(now - 60_000 + r * PER_RECEIVER + i);
        const messageId = newId(created);
        const deliveryId = newId(created);
        await db.query(
          `INSERT INTO messages (id, request_id, type, recipient, created_at, contents)
           VALUES ($1, $2, 'account.note', '{}', $3, '{"en":{"title":"t","body":"b"}}')`,
          [messageId, `crash-${run}-${r}-${i}`, created],
        );
        await db.query(
          `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, last_error, next_attempt_at, created_at, seq)
           VALUES ($1, $2, $3::varchar, 'websocket', 'inbox:' || $3::varchar, 'en', 'failed', 1, 'ack_timeout', $4, $4, $5)`,
          [deliveryId, messageId, userId, created, i + 1],
        );
        ids.push(deliveryId);
      }
      seeded.set(userId, ids);
    }
    const kafka = testKafka();
    await ensureTopics(kafka, [Topics.deliver.websocket], { partitions: 3, replicationFactor: 1 });
    consumer = kafka.consumer({ groupId: `e2e-resend-crash-${run}` });
    await consumer.connect();
    await consumer.subscribe({ topic: Topics.deliver.websocket, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const read = WebsocketDeliverySchema.safeParse(jsonOf(message.value));
        if (!read.success) return;
        const value = read.data;
        if (!('batch' in value) || !seeded.has(value.userId)) return;
        received.push({ userId: value.userId, deliveryIds: value.batch.map((job) => job.deliveryId), producedAt: Number(message.timestamp) });
      },
    });
  });

  afterAll(async () => {
    await first?.stop('SIGKILL');
    await second?.stop();
    await consumer?.disconnect();
    await db?.end();
    await database.drop();
  });

  const leases = async () =>
    (
      await db.query<{ id: string; status: string; next_attempt_at: Date }>(
        `SELECT id, status, next_attempt_at FROM deliveries WHERE user_id = ANY($1) ORDER BY id`,
        [[...seeded.keys()]],
      )
    ).rows;
  it('hands every delivery the dead poller held to the other once the lease has run out', async () => {
    const all = [...seeded.values()].flat();
    // Longer than the second poller takes to start, so that it finds the claims still held.
    first = await scheduler(15_000);
    const held = await eventually(leases, (rows) => rows.length === all.length && rows.every((r) => r.status === 'queued' && r.next_attempt_at.getTime() > Date.now()));
    expect(await first.stop('SIGKILL')).toBeNull();
    const killedAt = Date.now();
    const firstLeaseEnd = Math.max(...held.map((r) => r.next_attempt_at.getTime()));

    // A lease long enough that the second poller claims each delivery once in this test.
    second = await scheduler(600_000);
    const retaken = await eventually(leases, (rows) => rows.every((r) => r.status === 'queued' && r.next_attempt_at.getTime() > firstLeaseEnd), { timeoutMs: 90_000 });
    expect(retaken).toHaveLength(all.length);

    // Only the second poller was alive after the kill: what was produced since is its work, once the
    // dead one's lease had run out, and it sent each receiver's pending messages as one batch.
    const sentSinceKill = (userId: string) => received.filter((b) => b.userId === userId && b.producedAt >= killedAt);
    await eventually(async () => [...seeded.keys()].every((userId) => sentSinceKill(userId).length > 0), Boolean, { timeoutMs: 60_000 });
    for (const [userId, ids] of seeded) {
      for (const batch of sentSinceKill(userId)) {
        expect([...batch.deliveryIds].sort()).toEqual([...ids].sort());
        expect(batch.producedAt).toBeGreaterThanOrEqual(firstLeaseEnd);
      }
    }
  }, 360_000);
});
