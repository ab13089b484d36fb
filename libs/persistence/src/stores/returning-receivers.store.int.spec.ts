import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@notify/testing';
import { createDataSource, runMigrations } from '../data-source';
import { newId } from '../ids';
import { ResendStore } from './resend.store';
import { ReturningReceiversStore } from './returning-receivers.store';

const HOUR_MS = 3_600_000;

/** A database of its own: the claim at the end takes every due delivery it can see. */
describe('ReturningReceiversStore', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: 3 }).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });
  afterEach(() => dataSource.query('TRUNCATE deliveries, messages'));

  /** A message of an hour ago with one delivery of `userId` in the given state; its id. */
  async function seed(userId: string, delivery: { status: string; channel?: string; attempts?: number; nextAttemptInMs?: number | null }): Promise<string> {
    const createdAt = new Date(Date.now() - HOUR_MS);
    const [messageId, id] = [newId(createdAt), newId(createdAt)];
    await dataSource.query(
      `INSERT INTO messages (id, request_id, type, recipient, retry, created_at, contents)
       VALUES ($1::uuid, 'r-' || $1::text, 't', '{}', '{"maxAttempts":5}', $2, '{"en":{"title":"t","body":"b"}}')`,
      [messageId, createdAt],
    );
    const channel = delivery.channel ?? 'websocket';
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, last_error, next_attempt_at, created_at, seq)
       VALUES ($1, $2, $3, $4, $5, 'en', $6::varchar, $7, CASE WHEN $6::varchar = 'failed' THEN 'offline' END, now() + $8 * interval '1 millisecond', $9, 1)`,
      [id, messageId, userId, channel, `${channel}:${userId}`, delivery.status, delivery.attempts ?? 1, delivery.nextAttemptInMs ?? null, createdAt],
    );
    return id;
  }
  const rowsOf = async (ids: string[]) =>
    (await dataSource.query(
      `SELECT id, status, attempts, next_attempt_at <= now() AS due, next_attempt_at FROM deliveries WHERE id = ANY($1)`,
      [ids],
    )) as { id: string; status: string; attempts: number; due: boolean | null; next_attempt_at: Date | null }[];
  const rowOf = async (id: string) => (await rowsOf([id]))[0]!;

  it('makes due the browser deliveries of its users waiting for a retry, and nothing else', async () => {
    const waiting = [await seed('u-back', { status: 'failed', attempts: 2, nextAttemptInMs: HOUR_MS }), await seed('u-back', { status: 'failed', attempts: 3, nextAttemptInMs: 60_000 })];
    const second = await seed('u-phone-too', { status: 'failed', nextAttemptInMs: HOUR_MS });
    const untouched = {
      leased: await seed('u-back', { status: 'queued', nextAttemptInMs: 60_000 }),
      dead: await seed('u-back', { status: 'dead' }),
      expired: await seed('u-back', { status: 'expired' }),
      unscheduled: await seed('u-back', { status: 'failed' }),
      push: await seed('u-back', { status: 'failed', channel: 'push', nextAttemptInMs: HOUR_MS }),
      sms: await seed('u-back', { status: 'failed', channel: 'sms', nextAttemptInMs: HOUR_MS }),
      otherUser: await seed('u-away', { status: 'failed', nextAttemptInMs: HOUR_MS }),
    };
    const before = await rowsOf(Object.values(untouched));

    expect(await new ReturningReceiversStore(dataSource).makeDue(['u-back', 'u-phone-too', 'u-nobody'])).toBe(3);

    // Only their time changed: still failed, with the attempts they had.
    expect((await rowsOf([...waiting, second])).map(({ id, status, attempts, due }) => ({ id, status, attempts, due })).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [
        { id: waiting[0], status: 'failed', attempts: 2, due: true },
        { id: waiting[1], status: 'failed', attempts: 3, due: true },
        { id: second, status: 'failed', attempts: 1, due: true },
      ].sort((a, b) => a.id!.localeCompare(b.id!)),
    );
    expect(await rowsOf(Object.values(untouched))).toEqual(before);
  });

  it('hands them to the resend poller’s next claim, each user’s as one batch', async () => {
    const ids = [await seed('u-back', { status: 'failed', nextAttemptInMs: HOUR_MS }), await seed('u-back', { status: 'failed', nextAttemptInMs: 2 * HOUR_MS })];
    const resend = new ResendStore(dataSource);
    expect((await resend.claimDue(new Date(), 60_000, 10)).batches).toEqual([]);

    await new ReturningReceiversStore(dataSource).makeDue(['u-back']);
    const { batches } = await resend.claimDue(new Date(), 60_000, 10);
    expect(batches.map((batch) => ({ userId: batch.userId, channel: batch.channel, ids: batch.jobs.map((job) => job.deliveryId).sort() }))).toEqual([
      { userId: 'u-back', channel: 'websocket', ids: [...ids].sort() },
    ]);
  });

  it('leaves a delivery another transaction holds to it, without waiting for it', async () => {
    const [held, free] = [await seed('u-back', { status: 'failed', nextAttemptInMs: HOUR_MS }), await seed('u-back', { status: 'failed', nextAttemptInMs: HOUR_MS })];
    const holder = dataSource.createQueryRunner();
    await holder.startTransaction();
    try {
      // A claim or an acknowledgement under way.
      await holder.query(`SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, [held]);
      expect(await new ReturningReceiversStore(dataSource).makeDue(['u-back'])).toBe(1);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    expect([(await rowOf(held)).due, (await rowOf(free)).due]).toEqual([false, true]);
  });
});
