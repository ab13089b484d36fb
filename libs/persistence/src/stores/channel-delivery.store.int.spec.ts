import type { DataSource, QueryRunner } from 'typeorm';
import { eventually } from '@notify/testing';
import { newId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { ChannelDeliveryStore, RECEIPT_KEY_LOCK_BUCKETS } from './channel-delivery.store';
import { DeliveryOutcomeStore } from './delivery-outcome.store';
import { PushDeviceStore } from './push-device.store';
import { ResendStore } from './resend.store';

/** The database's clock, `plusMs` on: the one the record counts a wait from, and the resend poller's (D16). */
async function databaseNowOf(dataSource: DataSource, plusMs = 0): Promise<Date> {
  return (await dataSource.query<{ at: Date }[]>(`SELECT now() + $1 * interval '1 millisecond' AS at`, [plusMs]))[0]!.at;
}

/** The time a wait of `ms` recorded between the database times `before` and `after` may end at, as bounds in ms. */
const endsWithin = (ms: number, before: Date, after: Date): [number, number] => [before.getTime() + ms, after.getTime() + ms];

describe('ChannelDeliveryStore.record', () => {
  const database = migratedDatabase();
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);

  /** A message (with `retry` as its policy) and one queued SMS delivery per entry of `attempts`, each with that many attempts made. */
  async function seed(attempts: number[], retry: object = {}) {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const ids = attempts.map(() => newId(createdAt));
    await query(`INSERT INTO messages (id, request_id, type, recipient, retry, created_at) VALUES ($1, $2, 't', '{}', $3, $4)`, [messageId, `r-${messageId}`, retry, createdAt]);
    for (const [i, id] of ids.entries()) {
      await query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at) VALUES ($1, $2, $3, 'sms', $4, 'en', 'queued', $5, $6)`,
        [id, messageId, `u${i}`, `phone:${i}`, attempts[i], createdAt],
      );
    }
    return { messageId, ids };
  }

  const databaseNow = (plusMs = 0) => databaseNowOf(database.dataSource(), plusMs);

  it('deactivates the registration a dead-token answer was for, not one the app made again since with the same token', async () => {
    const token = 'ab'.repeat(32);
    await query(`INSERT INTO devices (user_id, device_id, provider, token, updated_at) VALUES ('reinstalled', 'phone', 'apns', $1, now() - interval '1 day')`, [token]);
    const [read] = await new PushDeviceStore(database.dataSource()).activeDevices([{ userId: 'reinstalled', deviceId: 'phone' }]);
    const store = new ChannelDeliveryStore(database.dataSource());
    const deactivation = { userId: 'reinstalled', deviceId: 'phone', token, reason: 'apns: Unregistered', registration: read!.registration };
    const activeNow = async () => (await query<{ active: boolean }>(`SELECT active FROM devices WHERE user_id = 'reinstalled'`))[0]!.active;

    // While the push was under way the app was reinstalled and registered the same token again.
    await query(`UPDATE devices SET updated_at = now() WHERE user_id = 'reinstalled'`);
    await store.record([], [deactivation]);
    expect(await activeNow()).toBe(true);

    const [again] = await new PushDeviceStore(database.dataSource()).activeDevices([{ userId: 'reinstalled', deviceId: 'phone' }]);
    await store.record([], [{ ...deactivation, registration: again!.registration }]);
    expect(await activeNow()).toBe(false);
  });

  it('expires a retry whose job came too late with no error, not the error of its earlier attempt', async () => {
    const { ids } = await seed([1]);
    // as the resend claim leaves a failed delivery it queues again
    await query(`UPDATE deliveries SET last_error = 'unavailable', next_attempt_at = now() + interval '1 minute' WHERE id = $1`, [ids[0]]);

    const events = await new ChannelDeliveryStore(database.dataSource()).expire(ids);

    expect(events.map((event) => [event.deliveryId, event.status, event.error])).toEqual([[ids[0], 'expired', null]]);
    expect(await query(`SELECT status, last_error FROM deliveries WHERE id = $1`, [ids[0]])).toEqual([{ status: 'expired', last_error: null }]);
  });

  it('records a claimed send whose message expired before its call as expired, with its attempt given back and its event staged', async () => {
    const { messageId, ids } = await seed([1]);
    const [deliveryId] = ids as [string];
    const claimed = (await new DeliveryOutcomeStore(database.dataSource()).claimSends([deliveryId], 60_000)).get(deliveryId)!;
    const recorded = await new ChannelDeliveryStore(database.dataSource()).record([
      { deliveryId, status: 'expired', error: null, waitMs: null, attempt: claimed.attempt, lease: claimed.lease, attempted: false },
    ]);
    expect(recorded.map((e) => [e.deliveryId, e.status, e.error, e.attempt])).toEqual([[deliveryId, 'expired', null, 1]]);
    expect(await query(`SELECT status, attempts, next_attempt_at FROM deliveries WHERE message_id = $1`, [messageId])).toEqual([{ status: 'expired', attempts: 1, next_attempt_at: null }]);
  });

  it('counts a retry whose failed send never reached the vendor as failed until its outcome, through the resend claim and the next send', async () => {
    const { messageId, ids } = await seed([0]);
    const [deliveryId] = ids as [string];
    const failed = async () => (await query<{ failed: number }>(`SELECT failed::int FROM request_delivery_stats WHERE request_id = $1`, [`r-${messageId}`]))[0]?.failed;
    const claims = new DeliveryOutcomeStore(database.dataSource());
    const first = (await claims.claimSends([deliveryId], 60_000)).get(deliveryId)!;
    await new ChannelDeliveryStore(database.dataSource()).record([
      { deliveryId, status: 'failed', error: 'throttled', waitMs: 1_000, attempt: first.attempt, lease: first.lease, attempted: false },
    ]);
    expect(await failed()).toBe(1);

    const { batches } = await new ResendStore(database.dataSource()).claimDue(await databaseNow(1_001), 60_000, 10);
    expect(batches.flatMap((b) => b.jobs.map((j) => j.deliveryId))).toEqual([deliveryId]);
    expect(await failed()).toBe(1);
    await claims.claimSends([deliveryId], 60_000);
    expect(await failed()).toBe(1);
  });

  it('gives the attempt back for a send that never reached the vendor, and keeps it for one that did', async () => {
    const { messageId, ids } = await seed([2, 2]);
    const [throttled, refusedByVendor] = ids as [string, string];
    // the channel worker's claim makes the third attempt of each
    const attempts = await new DeliveryOutcomeStore(database.dataSource()).claimAttempts([throttled, refusedByVendor], 60_000);
    expect([...attempts.values()]).toEqual([3, 3]);

    const recorded = await new ChannelDeliveryStore(database.dataSource()).record([
      { deliveryId: throttled, status: 'failed', error: 'throttled', waitMs: 5_000, attempt: 3, attempted: false },
      { deliveryId: refusedByVendor, status: 'failed', error: 'rate_limited', waitMs: 5_000, attempt: 3 },
    ]);

    expect(Object.fromEntries(recorded.map((e) => [e.deliveryId, [e.status, e.attempt]]))).toEqual({ [throttled]: ['failed', 2], [refusedByVendor]: ['failed', 3] });
    const rows = await query<{ id: string; attempts: number }>(`SELECT id, attempts FROM deliveries WHERE message_id = $1`, [messageId]);
    expect(Object.fromEntries(rows.map((row) => [row.id, row.attempts]))).toEqual({ [throttled]: 2, [refusedByVendor]: 3 });
  });

  it('ends a failure that must wait for its provider as dead when its attempt was the message’s last, so the next tier need not wait', async () => {
    const { messageId, ids } = await seed([2, 1], { maxAttempts: 3 });
    const [last, notLast] = ids as [string, string];
    const claims = await new DeliveryOutcomeStore(database.dataSource()).claimSends([last, notLast], 60_000);
    const failed = (deliveryId: string) => ({ deliveryId, status: 'failed' as const, error: 'rate_limited', waitMs: 3_600_000, ...claims.get(deliveryId)! });

    const before = await databaseNow();
    const recorded = await new ChannelDeliveryStore(database.dataSource()).record([failed(last), failed(notLast)]);
    const after = await databaseNow();

    expect(Object.fromEntries(recorded.map((e) => [e.deliveryId, [e.status, e.attempt]]))).toEqual({ [last]: ['dead', 3], [notLast]: ['failed', 2] });
    const rows = await query<{ id: string; status: string; next_attempt_at: Date | null; last_error: string }>(
      `SELECT id, status, next_attempt_at, last_error FROM deliveries WHERE message_id = $1`,
      [messageId],
    );
    expect(Object.fromEntries(rows.map((row) => [row.id, [row.status, row.next_attempt_at === null ? null : 'waiting', row.last_error]]))).toEqual({
      [last]: ['dead', null, 'rate_limited'],
      [notLast]: ['failed', 'waiting', 'rate_limited'],
    });
    const waiting = rows.find((row) => row.id === notLast)!.next_attempt_at!.getTime();
    const [earliest, latest] = endsWithin(3_600_000, before, after);
    expect(waiting).toBeGreaterThanOrEqual(earliest);
    expect(waiting).toBeLessThanOrEqual(latest);
  });

  it('counts a provider’s wait from the database’s clock, not from the clock of the channel worker that decided it', async () => {
    const [deliveryId] = (await seed([0])).ids as [string];
    const claimed = (await new DeliveryOutcomeStore(database.dataSource()).claimSends([deliveryId], 60_000)).get(deliveryId)!;
    // FCM refused the send with a 429 and `Retry-After: 60`, to a channel worker whose clock is 120 s
    // behind the database's: a time on its clock (a minute ago by the database's) was due at the
    // resend poller's next poll, and the resends spent the delivery's attempts within seconds.
    const before = await databaseNow();
    await new ChannelDeliveryStore(database.dataSource()).record([{ deliveryId, status: 'failed', error: 'rate_limited', waitMs: 60_000, ...claimed }]);
    const after = await databaseNow();

    const [row] = await query<{ waiting: boolean; next_attempt_at: Date }>(`SELECT next_attempt_at > now() AS waiting, next_attempt_at FROM deliveries WHERE id = $1`, [deliveryId]);
    expect(row!.waiting).toBe(true);
    const [earliest, latest] = endsWithin(60_000, before, after);
    expect(row!.next_attempt_at.getTime()).toBeGreaterThanOrEqual(earliest);
    expect(row!.next_attempt_at.getTime()).toBeLessThanOrEqual(latest);
  });

  it('ends a wait at the message’s expiry, so it is ended when it expires', async () => {
    const { ids } = await seed([0, 0]);
    const [expiring, expired] = ids as [string, string];
    await query(`UPDATE deliveries SET expires_at = now() + interval '10 minutes' WHERE id = $1`, [expiring]);
    await query(`UPDATE deliveries SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired]);
    const claims = await new DeliveryOutcomeStore(database.dataSource()).claimSends(ids, 60_000);
    const rateLimited = (deliveryId: string) => ({ deliveryId, status: 'failed' as const, error: 'rate_limited', waitMs: 3_600_000, ...claims.get(deliveryId)! });

    await new ChannelDeliveryStore(database.dataSource()).record([rateLimited(expiring), rateLimited(expired)]);

    const rows = await query<{ id: string; at_expiry: boolean }>(`SELECT id, next_attempt_at = expires_at AS at_expiry FROM deliveries WHERE id = ANY($1)`, [ids]);
    expect(Object.fromEntries(rows.map((row) => [row.id, row.at_expiry]))).toEqual({ [expiring]: true, [expired]: true });
  });

  it('does not let a retried write of a given-back attempt fail the next claim, which has the same attempt number', async () => {
    const {
      ids: [deliveryId],
    } = await seed([2]);
    const claims = new DeliveryOutcomeStore(database.dataSource());
    const store = new ChannelDeliveryStore(database.dataSource());
    const first = (await claims.claimSends([deliveryId], 60_000)).get(deliveryId)!;
    const throttled = { deliveryId, status: 'failed' as const, error: 'throttled', waitMs: null, attempt: first.attempt, lease: first.lease, attempted: false };
    expect(await store.record([throttled])).toHaveLength(1);
    // the resend poller hands it out again, and the next claim makes attempt 3 again
    await query(`UPDATE deliveries SET status = 'queued' WHERE id = $1`, [deliveryId]);
    const second = (await claims.claimSends([deliveryId], 60_000)).get(deliveryId)!;
    expect(second.attempt).toBe(first.attempt);

    // the first write again, as afterCommit retries it when its commit's answer was lost
    expect(await store.record([throttled])).toEqual([]);
    const [row] = await query<{ status: string; attempts: number }>(`SELECT status, attempts FROM deliveries WHERE id = $1`, [deliveryId]);
    expect(row).toEqual({ status: 'sent', attempts: 3 });
    // the second claim's own outcome is written
    expect(await store.record([{ deliveryId, status: 'sent', error: null, waitMs: null, attempt: second.attempt, lease: second.lease }])).toHaveLength(1);
  });
});

describe('ChannelDeliveryStore.receive', () => {
  const database = migratedDatabase();
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);
  const store = () => new ChannelDeliveryStore(database.dataSource());
  const claims = () => new DeliveryOutcomeStore(database.dataSource());
  const rowOf = async (id: string) =>
    (await query<{ status: string; last_error: string | null; next_attempt_at: Date | null; delivered_at: Date | null; receipt_key: string | null }>(
      `SELECT status, last_error, next_attempt_at, delivered_at, receipt_key FROM deliveries WHERE id = $1`,
      [id],
    ))[0]!;

  /** Queued SMS deliveries of one message, one per entry. */
  async function seed(count: number): Promise<string[]> {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    await query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [messageId, `r-${messageId}`, createdAt]);
    const ids = Array.from({ length: count }, () => newId(createdAt));
    for (const [i, id] of ids.entries()) {
      await query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at) VALUES ($1, $2, $3, 'sms', $4, 'en', 'queued', 0, $5)`,
        [id, messageId, `u${i}`, `phone:${i}`, createdAt],
      );
    }
    return ids;
  }

  /** Claims the delivery (queued again first, as the resend poller hands a retry out) and records its send accepted under `receiptKey`. */
  async function sendAccepted(deliveryId: string, receiptKey?: string): Promise<void> {
    await query(`UPDATE deliveries SET status = 'queued', next_attempt_at = NULL WHERE id = $1`, [deliveryId]);
    const claim = (await claims().claimSends([deliveryId], 60_000)).get(deliveryId)!;
    await store().record([{ deliveryId, status: 'sent', error: null, waitMs: null, ...claim, ...(receiptKey === undefined ? {} : { receiptKey }) }]);
  }

  const failed = (receiptKey: string) => ({ receiptKey, status: 'failed' as const, error: 'undelivered', deliveredAt: null });
  const delivered = (receiptKey: string, deliveredAt = new Date()) => ({ receiptKey, status: 'delivered' as const, error: null, deliveredAt });

  it('fails the send a receipt names for a retry, then takes a later receipt that it did arrive, with their events staged', async () => {
    const [id] = (await seed(1)) as [string];
    await sendAccepted(id, 'twilio:k1');
    expect(await rowOf(id)).toMatchObject({ status: 'sent', receipt_key: 'twilio:k1' });

    const {
      events: [failure],
    } = await store().receive([failed('twilio:k1')]);
    expect(failure).toMatchObject({ deliveryId: id, status: 'failed', error: 'undelivered', attempt: 1 });
    expect(await rowOf(id)).toMatchObject({ status: 'failed', last_error: 'undelivered', next_attempt_at: null });
    // The resend poller gives it the route's backoff, as it does a failure at the send.
    await new ResendStore(database.dataSource()).scheduleFailed(new Date(), 1_000);
    expect((await rowOf(id)).next_attempt_at).toBeInstanceOf(Date);

    const at = new Date(Date.now() - 5_000);
    expect((await store().receive([delivered('twilio:k1', at)])).events).toEqual([expect.objectContaining({ deliveryId: id, status: 'delivered', error: null })]);
    expect(await rowOf(id)).toMatchObject({ status: 'delivered', last_error: null, delivered_at: at });
    const staged = await query<{ events: { deliveryId: string; status: string }[] }>(`SELECT events FROM event_outbox ORDER BY id`);
    expect(staged.flatMap((row) => row.events).filter((e) => e.deliveryId === id).map((e) => e.status)).toEqual(['sent', 'failed', 'delivered']);

    // Once delivered, nothing a receipt says moves it back.
    expect(await store().receive([failed('twilio:k1'), { ...failed('twilio:k1'), status: 'dead' }])).toEqual({ events: [], applied: new Map(), waiting: new Set() });
    expect(await rowOf(id)).toMatchObject({ status: 'delivered' });
  });

  it('holds a bounce blaming this installation until the retry time, or the message’s expiry if sooner, and not at all after the last attempt', async () => {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    await query(`INSERT INTO messages (id, request_id, type, recipient, retry, created_at) VALUES ($1, $2, 't', '{}', $3, $4)`, [messageId, `r-${messageId}`, { maxAttempts: 3 }, createdAt]);
    const expiresSoon = new Date(createdAt.getTime() + 600_000);
    const [last, expiring, plain] = [newId(createdAt), newId(createdAt), newId(createdAt)];
    for (const [id, attempts, expiresAt] of [[last, 2, null], [expiring, 0, expiresSoon], [plain, 0, null]] as const) {
      await query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, expires_at, created_at) VALUES ($1, $2, $3, 'email', 'email:x', 'en', 'queued', $4, $5, $6)`,
        [id, messageId, `u-${id}`, attempts, expiresAt, createdAt],
      );
      await sendAccepted(id, `smtp:${id}`);
    }
    const misconfigured = (id: string) => ({ receiptKey: `smtp:${id}`, status: 'failed' as const, error: 'misconfigured', deliveredAt: null });

    const before = await databaseNowOf(database.dataSource());
    const { events } = await store().receive([misconfigured(last), misconfigured(expiring), misconfigured(plain)], { configurationRetryMs: 3_600_000 });
    const after = await databaseNowOf(database.dataSource());

    expect(events.map((e) => e.status)).toEqual(['failed', 'failed', 'failed']);
    const retryAt = (await rowOf(plain)).next_attempt_at!;
    expect(await rowOf(plain)).toMatchObject({ status: 'failed', last_error: 'misconfigured' });
    // An hour from the database's clock, by which the resend poller takes it up (D16).
    const [earliest, latest] = endsWithin(3_600_000, before, after);
    expect(retryAt.getTime()).toBeGreaterThanOrEqual(earliest);
    expect(retryAt.getTime()).toBeLessThanOrEqual(latest);
    expect(await rowOf(expiring)).toMatchObject({ status: 'failed', last_error: 'misconfigured', next_attempt_at: expiresSoon });
    expect(await rowOf(last)).toMatchObject({ status: 'failed', last_error: 'misconfigured', next_attempt_at: null });
    // The resend poller ends the one out of attempts now, not an hour from now.
    await new ResendStore(database.dataSource()).scheduleFailed(new Date(), 1_000);
    expect(await rowOf(last)).toMatchObject({ status: 'dead' });
    expect(await rowOf(plain)).toMatchObject({ status: 'failed', next_attempt_at: retryAt });
  });

  it('takes a failure only for the last accepted send, recorded and not under way, and a delivery whatever came since', async () => {
    const [underWay, replaced, refusedSince] = (await seed(3)) as [string, string, string];
    await sendAccepted(underWay, 'k:a1');
    await sendAccepted(replaced, 'k:b1');
    await sendAccepted(refusedSince, 'k:c1');
    // A retry is claimed and out at the vendor (its lease in next_attempt_at); another was accepted again under a new key.
    await query(`UPDATE deliveries SET status = 'queued' WHERE id = $1`, [underWay]);
    await claims().claimSends([underWay], 60_000);
    await sendAccepted(replaced, 'k:b2');
    // A retry the vendor refused at the send keeps the key of the send before it.
    await query(`UPDATE deliveries SET status = 'queued' WHERE id = $1`, [refusedSince]);
    const claim = (await claims().claimSends([refusedSince], 60_000)).get(refusedSince)!;
    await store().record([{ deliveryId: refusedSince, status: 'failed', error: 'unavailable', waitMs: null, ...claim }]);

    // A replaced send's key is no delivery's any more: its receipt waits, and is forgotten after a day.
    expect(await store().receive([failed('k:a1'), failed('k:b1'), failed('k:c1')])).toEqual({ events: [], applied: new Map(), waiting: new Set(['k:b1']) });
    expect(await rowOf(underWay)).toMatchObject({ status: 'sent' });
    expect(await rowOf(replaced)).toMatchObject({ status: 'sent', receipt_key: 'k:b2' });

    const { events: arrived } = await store().receive([delivered('k:a1'), delivered('k:b1'), delivered('k:c1')]);
    expect(arrived.map((e) => e.deliveryId).sort()).toEqual([underWay, refusedSince].sort());
    expect(await rowOf(underWay)).toMatchObject({ status: 'delivered', next_attempt_at: null });
    expect(await rowOf(refusedSince)).toMatchObject({ status: 'delivered', last_error: null });
    expect((await store().receive([failed('k:b2')])).events).toEqual([expect.objectContaining({ deliveryId: replaced, status: 'failed' })]);
  });

  it('leaves a delivery the user clicked or read as it is when the vendor’s delivered receipt comes after', async () => {
    const [clicked, read] = (await seed(2)) as [string, string];
    await sendAccepted(clicked, 'k:clicked');
    await sendAccepted(read, 'k:read');
    // The user followed the link, or read it, before the vendor told of its arrival.
    const t0 = new Date(Date.now() - 60_000);
    await query(`UPDATE deliveries SET status = 'clicked', delivered_at = $2 WHERE id = $1`, [clicked, t0]);
    await query(`UPDATE deliveries SET status = 'read', delivered_at = $2 WHERE id = $1`, [read, t0]);
    const counted = async () =>
      (await query<{ read: number; clicked: number }>(
        `SELECT s.read::int, s.clicked::int FROM request_delivery_stats s JOIN messages m ON m.request_id = s.request_id JOIN deliveries d ON d.message_id = m.id WHERE d.id = $1`,
        [clicked],
      ))[0];
    expect(await counted()).toEqual({ read: 2, clicked: 1 });

    expect(await store().receive([delivered('k:clicked'), delivered('k:read')])).toEqual({ events: [], applied: new Map(), waiting: new Set() });

    expect(await rowOf(clicked)).toMatchObject({ status: 'clicked', delivered_at: t0 });
    expect(await rowOf(read)).toMatchObject({ status: 'read', delivered_at: t0 });
    expect(await counted()).toEqual({ read: 2, clicked: 1 });
  });

  /**
   * Runs `work` while another transaction holds the receipt key's lock (`shared`, as a `record` of it
   * under way does, or exclusive, as a `receive` does), with what `during` writes in that
   * transaction; commits it once `work` waits for the lock or is done. Says whether `work` waited.
   * The pool's other connection is `work`'s: the lock table is read on this one.
   */
  async function whileKeyHeld<T>(key: string, during: (tx: QueryRunner) => Promise<unknown>, work: () => Promise<T>, lock: 'shared' | 'exclusive' = 'exclusive') {
    const holder = database.dataSource().createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query(`SELECT pg_advisory_xact_lock${lock === 'shared' ? '_shared' : ''}(${0x7263}, hashtext($1) & ${RECEIPT_KEY_LOCK_BUCKETS - 1})`, [key]);
      await during(holder);
      let done = false;
      const working = work().finally(() => (done = true));
      const waiters = async () =>
        ((await holder.query(
          `SELECT count(*)::int AS n FROM pg_locks
            WHERE locktype = 'advisory' AND classid = ${0x7263} AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        )) as { n: number }[])[0]!.n;
      await eventually(async () => done || (await waiters()) > 0, (over) => over);
      const waited = !done;
      await holder.commitTransaction();
      return { result: await working, waited };
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
  }

  it('keeps a receipt that comes before its send is recorded for that record, and one that meets the record under way is seen by it', async () => {
    const [early, recordFirst, receiptFirst] = (await seed(3)) as [string, string, string];
    expect(await store().receive([failed('k:early')])).toEqual({ events: [], applied: new Map(), waiting: new Set(['k:early']) });
    await sendAccepted(early, 'k:early');
    expect(await rowOf(early)).toMatchObject({ status: 'failed', last_error: 'undelivered' });
    const staged = await query<{ events: { deliveryId: string; status: string }[] }>(`SELECT events FROM event_outbox ORDER BY id`);
    expect(staged.flatMap((row) => row.events).filter((e) => e.deliveryId === early).map((e) => e.status)).toEqual(['sent', 'failed']);
    expect(await query(`SELECT receipt_key FROM waiting_receipts WHERE receipt_key = 'k:early'`)).toEqual([]);

    // A record writing the key is under way when the receipt comes: the receipt waits, then finds the key.
    await sendAccepted(recordFirst);
    const recordUnderWay = await whileKeyHeld(
      'k:record-first',
      (tx) => tx.query(`UPDATE deliveries SET receipt_key = 'k:record-first' WHERE id = $1`, [recordFirst]),
      () => store().receive([delivered('k:record-first')]),
      'shared',
    );
    expect(recordUnderWay.waited).toBe(true);
    expect(recordUnderWay.result.events).toEqual([expect.objectContaining({ deliveryId: recordFirst, status: 'delivered' })]);

    // A receipt is being kept waiting when the record comes: the record waits, then applies it.
    const receiptUnderWay = await whileKeyHeld(
      'k:receipt-first',
      (tx) => tx.query(`INSERT INTO waiting_receipts (receipt_key, status, delivered_at) VALUES ('k:receipt-first', 'delivered', now())`),
      () => sendAccepted(receiptFirst, 'k:receipt-first'),
    );
    expect(receiptUnderWay.waited).toBe(true);
    expect(await rowOf(receiptFirst)).toMatchObject({ status: 'delivered', receipt_key: 'k:receipt-first' });
    expect(await query(`SELECT receipt_key FROM waiting_receipts WHERE receipt_key LIKE 'k:%-first'`)).toEqual([]);
  });

  it('records sends beside another record of keys in the same lock bucket, without waiting for it', async () => {
    // Records never share a key (each names its own send): only a receipt has to wait for one.
    const [beside] = (await seed(1)) as [string];
    const { waited } = await whileKeyHeld('k:beside', async () => undefined, () => sendAccepted(beside, 'k:beside'), 'shared');
    expect(waited).toBe(false);
    expect(await rowOf(beside)).toMatchObject({ status: 'sent', receipt_key: 'k:beside' });
  });

  it('takes delivered over any other status for one send in one call, then dead over failed', async () => {
    const [id] = (await seed(1)) as [string];
    await sendAccepted(id, 'k:both');
    const { applied, events } = await store().receive([failed('k:both'), delivered('k:both'), { ...failed('k:both'), status: 'dead' }]);
    expect(applied).toEqual(new Map([['k:both', 'delivered']]));
    expect(events.map((e) => e.status)).toEqual(['delivered']);
    const [other] = (await seed(1)) as [string];
    await sendAccepted(other, 'k:ended');
    const ended = await store().receive([failed('k:ended'), { ...failed('k:ended'), status: 'dead', error: 'endpoint_gone' }, failed('k:ended')]);
    expect(ended.applied).toEqual(new Map([['k:ended', 'dead']]));
  });

  it('deactivates the device of a token a receipt calls gone, unless it was registered again after the vendor saw that', async () => {
    const [gone, reinstalled] = (await seed(2)) as [string, string];
    await sendAccepted(gone, 'k:gone');
    await sendAccepted(reinstalled, 'k:reinstalled');
    const seenAt = new Date(Date.now() - 60_000);
    // Registered before the vendor saw the token gone; written since (a replayed registration) does not count.
    const before = new Date(seenAt.getTime() - 1_000);
    await query(`INSERT INTO devices (user_id, device_id, provider, token, registered_at, updated_at) VALUES ('u-gone', 'p', 'hms', 'tok-gone', $1, now())`, [before]);
    await query(`INSERT INTO devices (user_id, device_id, provider, token, registered_at, updated_at) VALUES ('u-back', 'p', 'hms', 'tok-back', now(), now())`);
    await query(`INSERT INTO devices (user_id, device_id, provider, token, registered_at, updated_at) VALUES ('u-stranger', 'p', 'hms', 'tok-stranger', $1, $1)`, [before]);
    const uninstalled = (receiptKey: string, token: string) => ({
      receiptKey,
      status: 'dead' as const,
      error: 'endpoint_gone',
      deliveredAt: null,
      deactivation: { provider: 'hms', token, reason: 'hms: receipt 2', seenAt },
    });

    await store().receive([uninstalled('k:gone', 'tok-gone'), uninstalled('k:reinstalled', 'tok-back'), uninstalled('k:none', 'tok-stranger')]);

    // A receipt that names no send of ours deactivates nothing.
    expect(await query(`SELECT user_id, active, deactivated_reason FROM devices WHERE user_id IN ('u-gone', 'u-back', 'u-stranger') ORDER BY user_id`)).toEqual([
      { user_id: 'u-back', active: true, deactivated_reason: null },
      { user_id: 'u-gone', active: false, deactivated_reason: 'hms: receipt 2' },
      { user_id: 'u-stranger', active: true, deactivated_reason: null },
    ]);
  });

  it('stores no key for a send without one, so a repeated receipt of the send before does not fail it', async () => {
    const [id] = (await seed(1)) as [string];
    await sendAccepted(id);
    expect(await rowOf(id)).toMatchObject({ receipt_key: null });
    await sendAccepted(id, 'k:d1');
    expect((await store().receive([failed('k:d1')])).events).toEqual([expect.objectContaining({ deliveryId: id, status: 'failed' })]);

    // The retry goes out through a provider without receipts (the operator switched), and the vendor posts k:d1's failure again.
    await sendAccepted(id);
    expect(await rowOf(id)).toMatchObject({ status: 'sent', receipt_key: null });
    expect((await store().receive([failed('k:d1')])).events).toEqual([]);
    expect(await rowOf(id)).toMatchObject({ status: 'sent', last_error: null });
  });
});
