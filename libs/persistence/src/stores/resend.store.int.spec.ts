import type { DataSource, EntityManager } from 'typeorm';
import { createTestDatabase, eventually, type TestDatabase } from '@notify/testing';
import { createDataSource, runMigrations } from '../data-source';
import { newId } from '../ids';
import { DeliveryOutcomeStore } from './delivery-outcome.store';
import { FallbackStore, RELEASE_DUE, RELEASE_LEASE_MS, STRANDED_AFTER_MS } from './fallback.store';
import { FIND_DUE, FIND_FAILED, MAX_CLAIM_JOBS, ResendStore } from './resend.store';

const T0 = new Date('2030-03-01T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

/** A database of its own: the poller claims every due delivery it can see. */
describe('ResendStore', () => {
  let database: TestDatabase;
  let first: DataSource;
  let second: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    first = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
    second = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
  });
  afterAll(async () => {
    await first.destroy();
    await second.destroy();
    await database.drop();
  });
  afterEach(() => first.query('TRUNCATE deliveries, messages'));

  /** Messages of one user, each with a websocket delivery in the given state. */
  async function seed(
    userId: string,
    count: number,
    delivery: { status: string; attempts?: number; nextAttemptAt?: Date | null; expiresAt?: Date | null; channel?: string; lastError?: string },
    retry: Record<string, number | boolean> = { maxAttempts: 3, initialBackoffMs: 1_000, maxBackoffMs: 60_000 },
  ): Promise<string[]> {
    const created = Array.from({ length: count }, (_, i) => at(-3_600_000 + i));
    const messageIds = created.map((c) => newId(c));
    const ids = created.map((c) => newId(c));
    await first.query(
      `INSERT INTO messages (id, request_id, type, recipient, retry, created_at, contents)
       SELECT m, 'r-' || m, 't', '{}', $2::jsonb, c, '{"en":{"title":"t","body":"b"}}' FROM unnest($1::uuid[], $3::timestamptz[]) AS x(m, c)`,
      [messageIds, JSON.stringify(retry), created],
    );
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, next_attempt_at, expires_at, created_at, seq, last_error)
       SELECT d, m, $3::varchar, $10, 'inbox:' || $3::varchar, 'en', $4, $5::int, $6::timestamptz, $7::timestamptz, c, s, $11
         FROM unnest($1::uuid[], $2::uuid[], $8::timestamptz[], $9::bigint[]) AS x(d, m, c, s)`,
      [
        ids,
        messageIds,
        userId,
        delivery.status,
        delivery.attempts ?? 1,
        delivery.nextAttemptAt ?? null,
        delivery.expiresAt ?? null,
        created,
        created.map((_, i) => i + 1),
        delivery.channel ?? 'websocket',
        delivery.lastError ?? null,
      ],
    );
    return ids;
  }
  /** Resolves once one transaction has done its work and waits to commit (`transactionsHeldOpen`). */
  const waitingToCommit = () =>
    eventually(
      async () => ((await first.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`)) as { n: number }[])[0]!.n,
      (n) => n === 1,
    );

  /**
   * A DataSource whose transactions do their work, then wait for `commit()` before they commit (a
   * scheduler mid-release); each runs `settings` first.
   */
  function transactionsHeldOpen(...settings: string[]): { dataSource: DataSource; commit: () => void } {
    let commit!: () => void;
    const gate = new Promise<void>((resolve) => (commit = resolve));
    const dataSource = {
      transaction: async <T>(work: (tx: EntityManager) => Promise<T>): Promise<T> => {
        const runner = first.createQueryRunner();
        await runner.startTransaction();
        try {
          for (const setting of settings) await runner.query(setting);
          const result = await work(runner.manager);
          await gate;
          await runner.commitTransaction();
          return result;
        } finally {
          await runner.release();
        }
      },
    } as unknown as DataSource;
    return { dataSource, commit };
  }
  /** A message held for push to a phone and a tablet (tier 0) due at `pushDue`, then SMS (tier 1) 30 s later: [phone, tablet, sms]. */
  async function seedTwoDeviceTiers(userId: string, pushDue: Date): Promise<[string, string, string]> {
    const [phone] = await seed(userId, 1, { status: 'held', nextAttemptAt: pushDue, channel: 'push' });
    const [tablet, sms] = [newId(at(-3_600_000)), newId(at(-3_600_000))];
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, next_attempt_at, created_at)
       SELECT x.id, d.message_id, d.user_id, x.channel, x.endpoint, 'en', x.tier, 'held', 0, x.due, d.created_at
         FROM deliveries d, unnest($2::uuid[], $3::varchar[], $4::varchar[], $5::smallint[], $6::timestamptz[]) AS x(id, channel, endpoint, tier, due)
        WHERE d.id = $1`,
      [phone, [tablet, sms], ['push', 'sms'], [`fcm:${userId}/tablet`, '+15550100'], [0, 1], [pushDue, new Date(pushDue.getTime() + 30_000)]],
    );
    await first.query(`UPDATE deliveries SET tier = 0 WHERE id = $1`, [phone]);
    return [phone!, tablet, sms];
  }
  const statusOf = async (ids: string[]) =>
    (await first.query(`SELECT status, next_attempt_at FROM deliveries WHERE id = ANY($1) ORDER BY id`, [ids])) as { status: string; next_attempt_at: Date | null }[];
  const idsWhere = async (condition: string) =>
    ((await first.query(`SELECT id FROM deliveries WHERE ${condition} ORDER BY id`)) as { id: string }[]).map((r) => r.id);

  it('gives a new failure its next attempt time by backoff with full jitter', async () => {
    const [id] = await seed('u-backoff', 1, { status: 'failed', attempts: 2 });
    expect(await new ResendStore(first).scheduleFailed(T0, 100, () => 0.5)).toEqual({ taken: 1, ended: [] });
    // attempts 2 → ceiling 1 s × 2 = 2 s; half of it.
    expect(await statusOf([id!])).toEqual([{ status: 'failed', next_attempt_at: at(1_000) }]);
  });

  it('gives the failures of one receiver and channel one draw of jitter, so its batch comes back when they are due, not at the shortest', async () => {
    const together = await seed('u-together', 20, { status: 'failed', attempts: 2 });
    const [apart] = await seed('u-apart', 1, { status: 'failed', attempts: 2 });
    let draw = 0;
    await new ResendStore(first).scheduleFailed(T0, 100, () => (draw += 0.04));

    const times = (await statusOf(together)).map((row) => row.next_attempt_at!.getTime());
    expect(new Set(times).size).toBe(1);
    expect((await statusOf([apart!]))[0]!.next_attempt_at!.getTime()).not.toBe(times[0]);
  });

  it('gives a digest that failed together one time, so a provider refusal that named no wait does not split it into sends of its own', async () => {
    // Three messages of different attempt counts went out as one SMS digest; the gateway put it off
    // without a Retry-After. The claim keeps a `deferred` failure to its own time.
    const digest = { maxAttempts: 5, initialBackoffMs: 1_000, maxBackoffMs: 60_000, digest: true };
    const ids = [
      ...(await seed('u-digest', 1, { status: 'failed', attempts: 1, channel: 'sms', lastError: 'deferred' }, digest)),
      ...(await seed('u-digest', 1, { status: 'failed', attempts: 2, channel: 'sms', lastError: 'deferred' }, digest)),
      ...(await seed('u-digest', 1, { status: 'failed', attempts: 3, channel: 'sms', lastError: 'deferred' }, digest)),
    ];
    await new ResendStore(first).scheduleFailed(T0, 100, () => 0.5);

    // attempts 1 → half of 1 s, the earliest of the three
    expect(new Set((await statusOf(ids)).map((row) => row.next_attempt_at?.getTime()))).toEqual(new Set([at(500).getTime()]));
    const { batches } = await new ResendStore(first).claimDue(at(500), 60_000, 100);
    expect(batches.map((batch) => [batch.channel, batch.digest, batch.jobs.map((job) => job.deliveryId).sort()])).toEqual([['sms', true, [...ids].sort()]]);
  });

  it('ends a delivery out of attempts as dead and one past its expiry as expired, and never claims them', async () => {
    const [tired] = await seed('u-tired', 1, { status: 'failed', attempts: 3, lastError: 'offline' });
    const [stale] = await seed('u-stale', 1, { status: 'failed', attempts: 1, expiresAt: at(-1), lastError: 'offline' });
    const { taken, ended } = await new ResendStore(first).scheduleFailed(T0, 100, () => 0.5);
    expect(taken).toBe(2);
    // A dead delivery's event carries the error of its last attempt, the one its row keeps (a code of the contract's list).
    expect(ended.map((e) => [e.deliveryId, e.status, e.error]).sort()).toEqual([[tired, 'dead', 'offline'], [stale, 'expired', null]].sort());
    expect((await new ResendStore(first).claimDue(at(86_400_000), 60_000, 100)).batches).toEqual([]);
    // So does one the claim finds out of attempts: a resend whose lease ran out before its send was taken.
    const [leased] = await seed('u-leased', 1, { status: 'queued', attempts: 3, nextAttemptAt: at(-1), lastError: 'ack_timeout' });
    const claimed = await new ResendStore(first).claimDue(T0, 60_000, 100);
    expect(claimed.ended.map((e) => [e.deliveryId, e.status, e.error])).toEqual([[leased, 'dead', 'ack_timeout']]);
  });

  it('does not retry a permanent error', async () => {
    await seed('u-permanent', 1, { status: 'dead', attempts: 1 });
    expect(await new ResendStore(first).scheduleFailed(T0, 100, () => 0)).toEqual({ taken: 0, ended: [] });
    expect((await new ResendStore(first).claimDue(at(86_400_000), 60_000, 100)).batches).toEqual([]);
  });

  it('puts in an SMS digest only the messages whose route asks for one', async () => {
    const policy = { maxAttempts: 3, initialBackoffMs: 1_000, maxBackoffMs: 60_000 };
    const digested = await seed('u-digest', 2, { status: 'failed', nextAttemptAt: at(-1), channel: 'sms' }, { ...policy, digest: true });
    const [code] = await seed('u-digest', 1, { status: 'failed', nextAttemptAt: at(-1), channel: 'sms' }, policy);
    const { batches } = await new ResendStore(first).claimDue(T0, 60_000, 10);
    const shapes = batches.map((b) => ({ digest: b.digest, ids: b.jobs.map((j) => j.deliveryId).sort() }));
    expect(shapes.sort((a, b) => a.ids.length - b.ids.length)).toEqual([
      { digest: false, ids: [code] },
      { digest: true, ids: [...digested].sort() },
    ]);
  });

  it('sends a push or digest mail whose first send may have reached the user on its own, and summarises those that failed and those whose lost send may have been a summary', async () => {
    // The worker was killed after APNs took two pushes (`no_outcome` once their lease ran out); two
    // others failed for sure. Summarised, the resend's collapse id (the newest message's) replaced
    // one of the two notifications and left the other on the phone twice.
    const due = { status: 'failed', nextAttemptAt: at(-1), channel: 'push' };
    const unknown = await seed('u-unknown', 2, { ...due, lastError: 'no_outcome' });
    const [timedOut] = await seed('u-unknown', 1, { ...due, lastError: 'timeout' });
    const failed = [...(await seed('u-unknown', 1, { ...due, lastError: 'unavailable' })), ...(await seed('u-unknown', 1, { ...due, lastError: 'network' }))];
    // Likewise a mail of a digest route; an SMS, which no key replaces, stays in its digest.
    const digest = { maxAttempts: 3, initialBackoffMs: 1_000, maxBackoffMs: 60_000, digest: true };
    const [mailed] = await seed('u-unknown', 1, { ...due, channel: 'email', lastError: 'timeout' }, digest);
    const mailFailed = await seed('u-unknown', 2, { ...due, channel: 'email', lastError: 'deferred' }, digest);
    const texts = [...(await seed('u-unknown', 1, { ...due, channel: 'sms', lastError: 'no_outcome' }, digest)), ...(await seed('u-unknown', 1, { ...due, channel: 'sms', lastError: 'unavailable' }, digest))];
    // A browser tells its resends apart by message id: its lost sends still go as one event.
    const browser = await seed('u-unknown', 2, { ...due, channel: 'websocket', lastError: 'ack_timeout' });
    // A lost resend may have been a summary, which a summary again replaces: sent one by one, a lost
    // summary of three came back as three notifications.
    const lostSummary = await seed('u-summary', 3, { ...due, attempts: 2, lastError: 'timeout' });

    const { batches } = await new ResendStore(first).claimDue(T0, 60_000, 10);
    const shapes = batches.map((b) => ({ channel: b.channel, userId: b.userId, ids: b.jobs.map((j) => j.deliveryId).sort() }));
    const byFirstId = (a: { ids: string[] }, b: { ids: string[] }) => a.ids[0]!.localeCompare(b.ids[0]!);
    expect(shapes.sort(byFirstId)).toEqual(
      [
        ...[...unknown, timedOut!].map((id) => ({ channel: 'push', userId: 'u-unknown', ids: [id] })),
        { channel: 'push', userId: 'u-unknown', ids: [...failed].sort() },
        { channel: 'email', userId: 'u-unknown', ids: [mailed!] },
        { channel: 'email', userId: 'u-unknown', ids: [...mailFailed].sort() },
        { channel: 'sms', userId: 'u-unknown', ids: [...texts].sort() },
        { channel: 'websocket', userId: 'u-unknown', ids: [...browser].sort() },
        { channel: 'push', userId: 'u-summary', ids: [...lostSummary].sort() },
      ].sort(byFirstId),
    );
  });

  it('claims all of a receiver’s pending deliveries when any one is due, as one batch in inbox order', async () => {
    const due = await seed('u-batch', 1, { status: 'failed', nextAttemptAt: at(-1) });
    const later = await seed('u-batch', 9, { status: 'failed', nextAttemptAt: at(3_600_000) });
    const { batches } = await new ResendStore(first).claimDue(T0, 60_000, 100);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.jobs.map((j) => j.deliveryId).sort()).toEqual([...due, ...later].sort());
    expect(batches[0]).toMatchObject({ userId: 'u-batch', channel: 'websocket' });
    expect(new Set((await statusOf([...due, ...later])).map((r) => r.status))).toEqual(new Set(['queued']));
  });

  it('leaves out of a receiver’s batch a delivery whose wait a provider set, until that wait is over', async () => {
    const due = await seed('u-waits', 1, { status: 'failed', nextAttemptAt: at(-1), channel: 'push', lastError: 'unavailable' });
    const backoff = await seed('u-waits', 1, { status: 'failed', nextAttemptAt: at(600_000), channel: 'push', lastError: 'timeout' });
    const configuration = await seed('u-waits', 1, { status: 'failed', nextAttemptAt: at(3_600_000), channel: 'push', lastError: 'bad_credentials' });
    const rateLimited = await seed('u-waits', 1, { status: 'failed', nextAttemptAt: at(120_000), channel: 'push', lastError: 'rate_limited' });
    // A 503 whose Retry-After asked for five minutes.
    const unavailable = await seed('u-waits', 1, { status: 'failed', nextAttemptAt: at(300_000), channel: 'push', lastError: 'unavailable' });
    const store = new ResendStore(first);

    const { batches } = await store.claimDue(T0, 60_000, 100);
    expect(batches.flatMap((b) => b.jobs.map((j) => j.deliveryId)).sort()).toEqual([...due, ...backoff].sort());
    expect((await statusOf([...configuration, ...rateLimited, ...unavailable])).map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);

    // an hour on (the first batch's lease is over too, so it comes again)
    const later = await store.claimDue(at(3_600_000), 60_000, 100);
    expect(later.batches.flatMap((b) => b.jobs.map((j) => j.deliveryId)).sort()).toEqual([...due, ...backoff, ...configuration, ...rateLimited, ...unavailable].sort());
  });

  it('lets two pollers share 10,000 due deliveries without ever claiming one twice', async () => {
    for (let u = 0; u < 100; u++) await seed(`u-${u}`, 100, { status: 'failed', nextAttemptAt: at(-1) });
    // Both pollers make their first claim before either goes on, so neither can take everything
    // before the other has started; after that they race freely.
    let firstClaims = 0;
    let bothStarted!: () => void;
    const started = new Promise<void>((resolve) => (bothStarted = resolve));
    const claimedBy = async (dataSource: DataSource) => {
      const claimed: string[] = [];
      for (let round = 0; ; round++) {
        const { batches } = await new ResendStore(dataSource).claimDue(T0, 60_000, 7);
        if (round === 0 && ++firstClaims === 2) bothStarted();
        if (round === 0) await started;
        if (batches.length === 0) return claimed;
        for (const batch of batches) claimed.push(...batch.jobs.map((j) => j.deliveryId));
      }
    };
    const [a, b] = await Promise.all([claimedBy(first), claimedBy(second)]);
    expect(a.length + b.length).toBe(10_000);
    expect(new Set([...a, ...b]).size).toBe(10_000);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
  });

  it('stops taking receivers once a claim holds its bound of jobs, and leaves the others due as they were', async () => {
    for (let u = 0; u < 4; u++) await seed(`u-bound-${u}`, 3, { status: 'failed', nextAttemptAt: at(-1) });
    const store = new ResendStore(first);

    // A bound of 5: the first receiver's 3 jobs are under it, the second's take the claim past it.
    const claim = await store.claimDue(T0, 60_000, 100, 5);
    expect(claim.batches.map((b) => b.jobs.length)).toEqual([3, 3]);
    expect(claim.cutShort).toBe(true);
    // Leased are exactly the rows it returned; the rest are due as before, for the next claim.
    const claimed = claim.batches.flatMap((b) => b.jobs.map((j) => j.deliveryId)).sort();
    expect(await idsWhere(`status = 'queued'`)).toEqual(claimed);
    expect(await idsWhere(`status = 'failed' AND next_attempt_at = '${at(-1).toISOString()}'`)).toHaveLength(6);

    const next = await store.claimDue(T0, 60_000, 100, 5);
    expect(next.batches.map((b) => b.jobs.length)).toEqual([3, 3]);
    expect(await store.claimDue(T0, 60_000, 100, 5)).toEqual({ batches: [], ended: [], cutShort: false });
  });

  it('locks no row past its bound of jobs, so another poller can claim those receivers meanwhile', async () => {
    for (let u = 0; u < 4; u++) await seed(`u-lazy-${u}`, 3, { status: 'failed', nextAttemptAt: at(-1) });
    const runner = first.createQueryRunner();
    try {
      await runner.startTransaction();
      expect(await runner.query(FIND_DUE, [T0, 100, null, 5])).toHaveLength(5);
      // The search stopped at its 5th row, in the second receiver: the other 7 rows and the other two
      // receivers are free to lock.
      const [{ receivers }] = await runner.query(`SELECT count(*)::int AS receivers FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`);
      expect(receivers).toBe(2);
      const free = await second.query(`SELECT id FROM deliveries WHERE user_id LIKE 'u-lazy-%' FOR UPDATE SKIP LOCKED`);
      expect(free).toHaveLength(7);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('takes a receiver it has started whole though that goes past its bound, and no other', async () => {
    const one = await seed('u-whole-1', 8, { status: 'failed', nextAttemptAt: at(-1) });
    const other = await seed('u-whole-2', 8, { status: 'failed', nextAttemptAt: at(-1) });
    const store = new ResendStore(first);

    const claim = await store.claimDue(T0, 60_000, 100, 5);
    expect(claim.batches).toHaveLength(1);
    const taken = claim.batches[0]!.jobs.map((j) => j.deliveryId).sort();
    const left = taken.includes(one[0]!) ? other : one;
    expect(taken).toEqual(taken.includes(one[0]!) ? [...one].sort() : [...other].sort());
    expect(new Set((await statusOf(left)).map((r) => `${r.status} ${r.next_attempt_at?.toISOString()}`))).toEqual(new Set([`failed ${at(-1).toISOString()}`]));
    expect((await store.claimDue(T0, 60_000, 100, 5)).batches.flatMap((b) => b.jobs.map((j) => j.deliveryId)).sort()).toEqual([...left].sort());
  });

  it('never puts a failure’s next attempt past its message’s expiry, so the claim then ends it as expired', async () => {
    const [id] = await seed('u-expiring', 1, { status: 'failed', attempts: 2, expiresAt: at(500) });
    const store = new ResendStore(first);
    // attempts 2 → ceiling 2 s; 99 % of it would be 1.98 s, past the expiry at 0.5 s.
    expect(await store.scheduleFailed(T0, 100, () => 0.99)).toEqual({ taken: 1, ended: [] });
    expect(await statusOf([id!])).toEqual([{ status: 'failed', next_attempt_at: at(500) }]);

    const { batches, ended } = await store.claimDue(at(500), 60_000, 100);
    expect(batches).toEqual([]);
    expect(ended.map((e) => [e.deliveryId, e.status])).toEqual([[id, 'expired']]);
    expect(await statusOf([id!])).toEqual([{ status: 'expired', next_attempt_at: null }]);
  });

  it('gives a crashed poller’s claims to another once the lease has run out', async () => {
    const ids = await seed('u-lease', 3, { status: 'failed', nextAttemptAt: at(-1) });
    const crashed = await new ResendStore(first).claimDue(T0, 60_000, 100);
    expect(crashed.batches[0]!.jobs).toHaveLength(3);
    // The first poller never sends and never comes back.
    expect((await new ResendStore(second).claimDue(at(30_000), 60_000, 100)).batches).toEqual([]);
    const taken = await new ResendStore(second).claimDue(at(61_000), 60_000, 100);
    expect(taken.batches[0]!.jobs.map((j) => j.deliveryId).sort()).toEqual([...ids].sort());
  });

  it('claims at most one batch’s worth of a receiver’s messages, oldest first, and the rest in the next claim', async () => {
    // The contract's bound: a batch carries at most 1,000 messages.
    const ids = await seed('u-many', 1_200, { status: 'failed', nextAttemptAt: at(-1) });
    const store = new ResendStore(first);
    const [batch] = (await store.claimDue(T0, 60_000, 100)).batches;
    expect(batch!.jobs.map((j) => j.deliveryId)).toEqual(ids.slice(0, 1_000));
    const [rest] = (await store.claimDue(T0, 60_000, 100)).batches;
    expect(rest!.jobs.map((j) => j.deliveryId)).toEqual(ids.slice(1_000));
  });

  it('sends the rest of a receiver with more than a batch holds as the next batch, though only one of them was due', async () => {
    const [due] = await seed('u-backlog', 1, { status: 'failed', nextAttemptAt: at(-1) });
    const waiting = await seed('u-backlog', 1_199, { status: 'failed', nextAttemptAt: at(3_600_000) });
    // A provider's own wait is kept: it goes out at its time, not with the rest.
    const [throttled] = await seed('u-backlog', 1, { status: 'failed', nextAttemptAt: at(3_600_000), lastError: 'rate_limited' });
    const [read] = await seed('u-backlog', 1, { status: 'failed', nextAttemptAt: at(3_600_000) });
    const store = new ResendStore(first);
    // Another transaction holds one of the rest (the user reading it): the claim does not wait for it.
    const reader = second.createQueryRunner();
    await reader.startTransaction();
    let batch: Awaited<ReturnType<ResendStore['claimDue']>>['batches'][number] | undefined;
    try {
      await reader.query(`SELECT id FROM deliveries WHERE id = $1 FOR UPDATE`, [read]);
      [batch] = (await store.claimDue(T0, 60_000, 100)).batches;
    } finally {
      await reader.rollbackTransaction();
      await reader.release();
    }
    expect(batch!.jobs).toHaveLength(1_000);
    const [rest] = (await store.claimDue(T0, 60_000, 100)).batches;
    const sent = [...batch!.jobs, ...rest!.jobs].map((j) => j.deliveryId);
    // The row the reader held goes with the rest: any due row of a receiver takes the others along.
    expect(sent.sort()).toEqual([due!, ...waiting, read!].sort());
    expect(await statusOf([throttled!])).toEqual([{ status: 'failed', next_attempt_at: at(3_600_000) }]);
  });

  it('claims due deliveries that have no user (a bare phone number), each on its own', async () => {
    const created = [at(-3_600_000), at(-3_599_999), at(-3_599_998)];
    const messageIds = created.map((c) => newId(c));
    const ids = created.map((c) => newId(c));
    await first.query(
      `INSERT INTO messages (id, request_id, type, recipient, created_at, contents)
       SELECT m, 'r-' || m, 't', '{"phone":"+15550100"}', c, '{"en":{"title":"t","body":"b"}}' FROM unnest($1::uuid[], $2::timestamptz[]) AS x(m, c)`,
      [messageIds, created],
    );
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, next_attempt_at, created_at)
       SELECT d, m, NULL, 'sms', '+15550100', 'en', 'failed', 1, n, c FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS x(d, m, n, c)`,
      [ids, messageIds, [at(-1), at(-1), at(60_000)], created],
    );
    const { batches } = await new ResendStore(first).claimDue(T0, 60_000, 100);
    expect(batches.map((b) => ({ userId: b.userId, channel: b.channel, ids: b.jobs.map((j) => j.deliveryId) })).sort((a, b) => a.ids[0]!.localeCompare(b.ids[0]!))).toEqual(
      [ids[0]!, ids[1]!].sort().map((id) => ({ userId: null, channel: 'sms', ids: [id] })),
    );
    expect(await statusOf([ids[2]!])).toEqual([{ status: 'failed', next_attempt_at: at(60_000) }]);
  });

  it('resends a released delivery whose job was never produced, once the release lease has run out', async () => {
    const [id] = await seed('u-released', 1, { status: 'held', nextAttemptAt: at(-1), channel: 'push' });
    const released = await new FallbackStore(first).releaseDue(T0, 100);
    expect(released.jobs.map((j) => j.deliveryId)).toEqual([id]);
    // The process stops before it produces the job.
    const store = new ResendStore(first);
    expect((await store.claimDue(at(RELEASE_LEASE_MS - 1), 60_000, 100)).batches).toEqual([]);
    const { batches } = await store.claimDue(at(RELEASE_LEASE_MS), 60_000, 100);
    expect(batches.flatMap((b) => b.jobs.map((j) => j.deliveryId))).toEqual([id]);
  });

  it('counts the held tiers a release cancelled (a lower tier delivered) among those it took', async () => {
    const [delivered] = await seed('u-tiers', 1, { status: 'delivered' });
    const [released] = await seed('u-released-tier', 1, { status: 'held', nextAttemptAt: at(-1), channel: 'push' });
    // A push tier above the delivered websocket one, of the same message: due, and no longer needed.
    const cancelled = newId(at(-3_600_000));
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, next_attempt_at, created_at)
       SELECT $1, message_id, user_id, 'push', 'fcm:u-tiers/d', 'en', 1, 'held', 0, $2, created_at FROM deliveries WHERE id = $3`,
      [cancelled, at(-1), delivered],
    );

    const { jobs, taken } = await new FallbackStore(first).releaseDue(T0, 100);

    expect(jobs.map((j) => j.deliveryId)).toEqual([released]);
    expect(taken).toBe(2);
    expect(await first.query(`SELECT status FROM deliveries WHERE id = $1`, [cancelled])).toEqual([{ status: 'cancelled' }]);
  });

  it('cancels a scheduled topic message and a topic message’s retry for a user who unsubscribed since, and sends them to one still subscribed', async () => {
    const [heldLeft] = await seed('u-left-held', 1, { status: 'held', nextAttemptAt: at(-1) });
    const [heldStays] = await seed('u-stays-held', 1, { status: 'held', nextAttemptAt: at(-1) });
    const [retryLeft] = await seed('u-left-retry', 1, { status: 'failed', nextAttemptAt: at(-1), lastError: 'offline' });
    const [retryStays] = await seed('u-stays-retry', 1, { status: 'failed', nextAttemptAt: at(-1), lastError: 'offline' });
    const all = [heldLeft!, heldStays!, retryLeft!, retryStays!];
    await first.query(`UPDATE messages m SET recipient = '{"topic":"promotions"}' FROM deliveries d WHERE d.id = ANY($1::uuid[]) AND m.id = d.message_id`, [all]);
    // Those who stay are still subscribed; the others unsubscribed after the message was planned.
    await first.query(`INSERT INTO topic_subscriptions (topic, user_id) VALUES ('promotions', 'u-stays-held'), ('promotions', 'u-stays-retry')`);

    const released = await new FallbackStore(first).releaseDue(T0, 100);
    const claimed = await new ResendStore(first).claimDue(T0, 60_000, 100);

    expect(released.jobs.map((job) => job.deliveryId)).toEqual([heldStays]);
    expect(claimed.batches.flatMap((batch) => batch.jobs.map((job) => job.deliveryId))).toEqual([retryStays]);
    const rows = await first.query(`SELECT id, status FROM deliveries WHERE id = ANY($1::uuid[])`, [all]);
    expect(Object.fromEntries((rows as { id: string; status: string }[]).map((row) => [row.id, row.status]))).toEqual({
      [heldLeft!]: 'cancelled',
      [heldStays!]: 'queued',
      [retryLeft!]: 'cancelled',
      [retryStays!]: 'queued',
    });
  });

  it('cancels the next channel of a topic message, instead of releasing it, when the user unsubscribed before the channel below gave up', async () => {
    const [browser] = await seed('u-left-esc', 1, { status: 'failed', lastError: 'offline' });
    const push = newId(at(-3_600_000));
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, created_at)
       SELECT $2, d.message_id, d.user_id, 'push', 'fcm:u-left-esc/phone', 'en', 1, 'held', 0, d.created_at FROM deliveries d WHERE d.id = $1`,
      [browser, push],
    );
    await first.query(`UPDATE messages m SET recipient = '{"topic":"promotions"}' FROM deliveries d WHERE d.id = $1 AND m.id = d.message_id`, [browser]);

    const jobs = await new FallbackStore(first).escalate([browser!]);

    expect(jobs).toEqual([]);
    expect(await statusOf([push])).toEqual([{ status: 'cancelled', next_attempt_at: null }]);
  });

  it('releases the next channel only once every delivery of the channel before gave up, for each user on their own', async () => {
    // Route [push, sms] without `after`: the phone's push is dead at once, the tablet's is out and leased.
    const [phone, tablet, sms] = await seedTwoDeviceTiers('u-phone-and-tablet', T0);
    await first.query(`UPDATE deliveries SET status = 'dead', last_error = 'endpoint_gone', attempts = 1, next_attempt_at = NULL WHERE id = $1`, [phone]);
    await first.query(`UPDATE deliveries SET status = 'sent', attempts = 1, next_attempt_at = $2 WHERE id = $1`, [tablet, at(60_000)]);
    await first.query(`UPDATE deliveries SET next_attempt_at = NULL WHERE id = $1`, [sms]);
    // Another user of the same message, whose push is out too.
    const [othersPush, othersSms] = [newId(at(-3_600_000)), newId(at(-3_600_000))];
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, next_attempt_at, created_at)
       SELECT x.id, d.message_id, 'u-other', x.channel, x.endpoint, 'en', x.tier, x.status, x.attempts, x.due, d.created_at
         FROM deliveries d, unnest($2::uuid[], $3::varchar[], $4::varchar[], $5::smallint[], $6::varchar[], $7::int[], $8::timestamptz[])
              AS x(id, channel, endpoint, tier, status, attempts, due)
        WHERE d.id = $1`,
      [phone, [othersPush, othersSms], ['push', 'sms'], ['fcm:u-other/phone', '+15550101'], [0, 1], ['sent', 'held'], [1, 0], [at(60_000), null]],
    );
    const store = new FallbackStore(first);
    const held = { status: 'held', next_attempt_at: null };

    expect(await store.escalate([phone])).toEqual([]);
    expect(await statusOf([sms, othersSms])).toEqual([held, held]);

    // The tablet's push failed in a vendor outage: a retry is coming, so it has not given up (the phone's event comes again).
    await first.query(`UPDATE deliveries SET status = 'failed', last_error = 'unavailable', next_attempt_at = $2 WHERE id = $1`, [tablet, at(30_000)]);
    expect(await store.escalate([phone])).toEqual([]);
    expect(await statusOf([sms, othersSms])).toEqual([held, held]);

    await first.query(`UPDATE deliveries SET status = 'dead', last_error = 'endpoint_gone', next_attempt_at = NULL WHERE id = $1`, [tablet]);
    const jobs = await store.escalate([tablet]);

    expect(jobs.map((job) => [job.deliveryId, job.channel, job.userId])).toEqual([[sms, 'sms', 'u-phone-and-tablet']]);
    expect((await statusOf([sms]))[0]!.status).toBe('queued');
    expect(await statusOf([othersSms])).toEqual([held]);
  });

  it('releases a late scheduled message one tier at a time, each its escalation delay after the one below', async () => {
    // Websocket at T0 - 50 s, push 30 s later, SMS 30 s after that: the scheduler was away until T0.
    const [browser] = await seed('u-late', 1, { status: 'held', nextAttemptAt: at(-50_000) });
    const upper = [1, 2].map(() => newId(at(-3_600_000)));
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, next_attempt_at, created_at)
       SELECT x.id, d.message_id, d.user_id, x.channel, x.channel || ':u-late', 'en', x.tier, 'held', 0, x.due, d.created_at
         FROM deliveries d, unnest($2::uuid[], $3::varchar[], $4::smallint[], $5::timestamptz[]) AS x(id, channel, tier, due)
        WHERE d.id = $1`,
      [browser, upper, ['push', 'sms'], [1, 2], [at(-20_000), at(10_000)]],
    );
    const store = new FallbackStore(first);
    const released = async (now: Date) => (await store.releaseDue(now, 100)).jobs.map((j) => j.deliveryId);

    expect(await released(T0)).toEqual([browser]);
    // Each tier above moved by the 50 s the browser's release came late.
    expect(await released(at(29_999))).toEqual([]);
    expect(await released(at(30_000))).toEqual([upper[0]]);
    expect(await released(at(59_999))).toEqual([]);
    expect(await released(at(60_000))).toEqual([upper[1]]);
  });

  it('moves the tier above once when a late tier of two devices is released in two batches', async () => {
    // Push to a phone and a tablet at T0 - 50 s, then SMS 30 s later; one device per release batch.
    const [phone, tablet, sms] = await seedTwoDeviceTiers('u-two-devices', at(-50_000));
    const store = new FallbackStore(first);

    const released = [...(await store.releaseDue(T0, 1)).jobs, ...(await store.releaseDue(at(1_000), 1)).jobs].map((j) => j.deliveryId);

    expect(released.sort()).toEqual([phone, tablet].sort());
    // 30 s after the tablet's release (at T0 + 1 s), not after two delays.
    expect(await statusOf([sms])).toEqual([{ status: 'held', next_attempt_at: at(31_000) }]);
  });

  it('moves the tier above when two schedulers at once find the two deliveries of a late tier', async () => {
    // Push to a phone and a tablet 10 minutes late, then SMS 30 s after them.
    const [phone, tablet, sms] = await seedTwoDeviceTiers('u-two-schedulers', at(-600_000));
    // Scheduler A releases one delivery and has not committed yet when scheduler B polls.
    const { dataSource: heldOpen, commit } = transactionsHeldOpen();
    let aTook: string[] | undefined;
    const a = new FallbackStore(heldOpen).releaseDue(T0, 1).then((r) => (aTook = r.jobs.map((j) => j.deliveryId)));
    await waitingToCommit();
    const b = new FallbackStore(second);
    const bTook = (await b.releaseDue(T0, 1)).jobs.map((j) => j.deliveryId);
    commit();
    await a;
    const later = (await b.releaseDue(T0, 10)).jobs.map((j) => j.deliveryId);

    expect([...aTook!, ...bTook, ...later].sort()).toEqual([phone, tablet].sort());
    // 30 s after the late push, not 10 minutes early.
    expect(await statusOf([sms])).toEqual([{ status: 'held', next_attempt_at: at(30_000) }]);
  });

  it('leaves a second scheduler the due deliveries the first is not releasing', async () => {
    // Twelve scheduled sends due, to twelve users; scheduler A releases five and has not committed yet.
    for (let i = 0; i < 12; i++) await seed(`u-scheduled-${i}`, 1, { status: 'held', nextAttemptAt: at(-60_000 + i), channel: 'push' });
    // A's plan joins the rows it takes by hashing, as the planner chose over a large table: whatever
    // the plan, A locks only the (message, user) pairs it releases.
    const { dataSource: heldOpen, commit } = transactionsHeldOpen('SET LOCAL enable_nestloop = off', 'SET LOCAL enable_mergejoin = off');
    let aTook: string[] | undefined;
    const a = new FallbackStore(heldOpen).releaseDue(T0, 5).then((r) => (aTook = r.jobs.map((j) => j.deliveryId)));
    await waitingToCommit();

    const bTook = (await new FallbackStore(second).releaseDue(T0, 5)).jobs.map((j) => j.deliveryId);
    commit();
    await a;

    expect(aTook).toHaveLength(5);
    expect(bTook).toHaveLength(5);
    expect(new Set([...aTook!, ...bTook]).size).toBe(10);
  });

  it('releases a scheduled message’s browser delivery no later than its push, which carries the inbox number it is given', async () => {
    // Push and browser at once (`policy: all`), the push's row first.
    const [push] = await seed('u-both-scheduled', 1, { status: 'held', nextAttemptAt: at(-1_000), channel: 'push' });
    const browser = newId(at(-3_600_000));
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, next_attempt_at, created_at)
       SELECT $2, d.message_id, d.user_id, 'websocket', 'inbox:' || d.user_id, 'en', 0, 'held', 0, d.next_attempt_at, d.created_at FROM deliveries d WHERE d.id = $1`,
      [push, browser],
    );
    const store = new FallbackStore(first);

    const jobs = [...(await store.releaseDue(T0, 1)).jobs, ...(await store.releaseDue(T0, 1)).jobs];

    expect(jobs.map((j) => [j.channel, j.message.seq])).toEqual([
      ['websocket', 1],
      ['push', 1],
    ]);
  });

  it('finds the held deliveries due without reading those that wait, nor the failed ones', async () => {
    // Tiers held until a lower tier fails, scheduled sends to come, and retries due: none is the release's.
    for (let i = 0; i < 100; i++) await seed(`u-waiting-${i}`, 10, { status: 'held', nextAttemptAt: null, expiresAt: at(86_400_000), channel: 'sms' });
    for (let i = 0; i < 50; i++) await seed(`u-later-${i}`, 10, { status: 'held', nextAttemptAt: at(600_000), channel: 'push' });
    for (let i = 0; i < 50; i++) await seed(`u-retry-${i}`, 10, { status: 'failed', nextAttemptAt: at(-1_000) });
    const due = [...(await seed('u-due-now', 2, { status: 'held', nextAttemptAt: at(-1_000), channel: 'push' })), ...(await seed('u-expired', 1, { status: 'held', nextAttemptAt: null, expiresAt: at(-1_000), channel: 'sms' }))];
    await first.query('ANALYZE deliveries');
    const runner = first.createQueryRunner();
    try {
      await runner.startTransaction();
      await runner.query('SET LOCAL enable_seqscan = off');
      const [{ 'QUERY PLAN': [plan] }] = (await runner.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${RELEASE_DUE}`, [T0, 100])) as [{ 'QUERY PLAN': [{ Plan: PlanNode }] }];
      expect(plan.Plan['Actual Rows']).toBe(due.length);
      // The 2,000 other held and failed deliveries are not read.
      expect(deliveriesRead(plan.Plan)).toBeLessThan(50);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('does not release a held delivery that another scheduler released since its statement began', async () => {
    const [late] = await seed('u-released-meanwhile', 1, { status: 'held', nextAttemptAt: at(-60_000), channel: 'push' });
    const runner = second.createQueryRunner();
    try {
      await runner.startTransaction();
      // The statement's snapshot is taken now; it reads and locks its rows only when fetched.
      const literal = RELEASE_DUE.replace(/\$1/g, `'${T0.toISOString()}'::timestamptz`).replace(/\$2/g, '10');
      await runner.query(`DECLARE due CURSOR FOR ${literal}`);
      expect((await new FallbackStore(first).releaseDue(T0, 10)).jobs.map((j) => j.deliveryId)).toEqual([late]);
      expect(await runner.query(`FETCH ALL FROM due`)).toEqual([]);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('cancels instead of retrying a tier whose send failed after a lower tier reached the user', async () => {
    // The push was being sent when the browser acknowledged (so the cancel of the tiers above passed
    // it by), and then failed: its retry would show the message on the phone too.
    const [browser] = await seed('u-reached', 1, { status: 'delivered' });
    const push = newId(at(-3_600_000));
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, last_error, next_attempt_at, created_at)
       SELECT $2, d.message_id, d.user_id, 'push', 'fcm:u-reached/phone', 'en', 1, 'failed', 1, 'unavailable', $3, d.created_at FROM deliveries d WHERE d.id = $1`,
      [browser, push, at(-1)],
    );

    const claimed = await new ResendStore(first).claimDue(T0, 60_000, 100);

    expect(claimed.batches).toEqual([]);
    expect(claimed.ended).toEqual([]);
    expect(await statusOf([push])).toEqual([{ status: 'cancelled', next_attempt_at: null }]);
  });

  it('cancels instead of retrying a tier whose send failed before a higher tier reached the user', async () => {
    // Push first, the browser after a while: the push failed in a vendor outage, the browser tier was
    // released on time and acknowledged. The push's retry would show the message on the phone too.
    const [push] = await seed('u-overtaken', 1, { status: 'failed', nextAttemptAt: at(-1), channel: 'push', lastError: 'network' });
    const browser = newId(at(-3_600_000));
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, created_at)
       SELECT $2, d.message_id, d.user_id, 'websocket', 'inbox:u-overtaken', 'en', 1, 'delivered', 1, d.created_at FROM deliveries d WHERE d.id = $1`,
      [push, browser],
    );

    const claimed = await new ResendStore(first).claimDue(T0, 60_000, 100);

    expect(claimed.batches).toEqual([]);
    expect(await statusOf([push])).toEqual([{ status: 'cancelled', next_attempt_at: null }]);
  });

  it('claims the failed deliveries of one broadcast with one copy of its data for all their jobs', async () => {
    const [original] = await seed('u-broadcast-0', 1, { status: 'failed', nextAttemptAt: at(-1) });
    await first.query(`UPDATE messages SET data = $2 FROM deliveries d WHERE d.id = $1 AND messages.id = d.message_id`, [original, { note: 'x'.repeat(10_000) }]);
    await first.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, next_attempt_at, created_at)
       SELECT x.id, d.message_id, x.u, 'websocket', 'inbox:' || x.u, 'en', 'failed', 1, $3, d.created_at
         FROM deliveries d, unnest($2::uuid[], $4::varchar[]) AS x(id, u) WHERE d.id = $1`,
      [original, [newId(at(-3_600_000)), newId(at(-3_600_000))], at(-1), ['u-broadcast-1', 'u-broadcast-2']],
    );

    const { batches } = await new ResendStore(first).claimDue(T0, 60_000, 100);

    const jobs = batches.flatMap((b) => b.jobs);
    expect(jobs.map((j) => j.userId).sort()).toEqual(['u-broadcast-0', 'u-broadcast-1', 'u-broadcast-2']);
    expect(jobs[0]!.message.data).toEqual({ note: 'x'.repeat(10_000) });
    expect(new Set(jobs.map((j) => j.message.data)).size).toBe(1);
  });

  it('expires a held tier that had no time of its own once the message is past its expiry', async () => {
    const [held] = await seed('u-held', 1, { status: 'held', nextAttemptAt: null, expiresAt: at(-1), channel: 'sms' });
    const { jobs, expired } = await new FallbackStore(first).releaseDue(T0, 100);
    expect(jobs).toEqual([]);
    expect(expired.map((e) => [e.status, e.userId])).toEqual([['expired', 'u-held']]);
    expect(await statusOf([held!])).toEqual([{ status: 'expired', next_attempt_at: null }]);
  });

  it('moves a held tier with no time of its own whose lower tier ended without its event, once that end is old enough', async () => {
    // Each user: a websocket tier 0 in some state, updated at some time, and a push tier 1 held for its event.
    const lower = async (userId: string, status: string, lastError: string | null, updatedAt: Date) => {
      const [id] = await seed(userId, 1, { status, nextAttemptAt: status === 'failed' ? at(60_000) : null, ...(lastError ? { lastError } : {}) });
      await first.query(`UPDATE deliveries SET updated_at = $2 WHERE id = $1`, [id, updatedAt]);
      const push = newId(at(-3_600_000));
      await first.query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, created_at)
         SELECT $1, message_id, user_id, 'push', 'fcm:' || user_id || '/phone', 'en', 1, 'held', 0, created_at FROM deliveries WHERE id = $2`,
        [push, id],
      );
      return push;
    };
    const long = at(-STRANDED_AFTER_MS - 1);
    const stranded = await lower('u-offline-lost', 'failed', 'offline', long);
    const recent = await lower('u-offline-recent', 'failed', 'offline', at(-STRANDED_AFTER_MS + 1_000));
    const retrying = await lower('u-retrying', 'queued', null, long);
    const reached = await lower('u-reached', 'delivered', null, long);
    const dead = await lower('u-dead-lost', 'dead', 'endpoint_gone', long);
    const throttled = await lower('u-rate-limited', 'failed', 'rate_limited', long);
    const store = new FallbackStore(first);
    expect((await store.releaseDue(T0, 100)).taken).toBe(0);

    const { jobs, taken } = await store.releaseStranded(T0, 100);

    expect(jobs.map((j) => j.deliveryId).sort()).toEqual([stranded, dead].sort());
    expect(taken).toBe(3);
    expect(await first.query(`SELECT id, status FROM deliveries WHERE id = ANY($1) ORDER BY user_id`, [[stranded, recent, retrying, reached, dead, throttled]])).toEqual([
      { id: dead, status: 'queued' },
      { id: stranded, status: 'queued' },
      { id: recent, status: 'held' },
      { id: throttled, status: 'held' },
      { id: reached, status: 'cancelled' },
      { id: retrying, status: 'held' },
    ]);
  });

  it('takes a send whose outcome never came for failed once its lease has run out, and leaves answered and leased sends alone', async () => {
    const [lostBrowser] = await seed('u-lost-browser', 1, { status: 'sent', nextAttemptAt: at(-1) });
    const [lostPush] = await seed('u-lost-push', 1, { status: 'sent', nextAttemptAt: at(-1), channel: 'push' });
    const [inFlight] = await seed('u-in-flight', 1, { status: 'sent', nextAttemptAt: at(60_000) });
    // A provider accepted this one: its outcome cleared the lease.
    const [accepted] = await seed('u-accepted', 1, { status: 'sent', nextAttemptAt: null, channel: 'push' });
    const store = new ResendStore(first);

    const events = await store.failUnanswered(T0, 100);
    const byId = (a: { deliveryId: string }, b: { deliveryId: string }) => a.deliveryId.localeCompare(b.deliveryId);
    expect(events.map((e) => ({ deliveryId: e.deliveryId, status: e.status, error: e.error, attempt: e.attempt })).sort(byId)).toEqual(
      [
        { deliveryId: lostBrowser!, status: 'failed', error: 'ack_timeout', attempt: 1 },
        { deliveryId: lostPush!, status: 'failed', error: 'no_outcome', attempt: 1 },
      ].sort(byId),
    );
    expect(await statusOf([inFlight!])).toEqual([{ status: 'sent', next_attempt_at: at(60_000) }]);
    expect(await statusOf([accepted!])).toEqual([{ status: 'sent', next_attempt_at: null }]);
    expect(await store.failUnanswered(T0, 100)).toEqual([]);
    // From here they are failures like any other: a next attempt time, then a claim.
    await store.scheduleFailed(T0, 100, () => 0);
    const claimed = await store.claimDue(at(1), 60_000, 100);
    expect(claimed.batches.flatMap((b) => b.jobs.map((j) => j.deliveryId)).sort()).toEqual([lostBrowser, lostPush].sort());
  });

  it('does not let a late outcome of a lost send undo its retry, unless it says delivered', async () => {
    const [id] = await seed('u-late', 1, { status: 'queued', attempts: 0 });
    const outcomes = new DeliveryOutcomeStore(first);
    const store = new ResendStore(first);
    expect(await outcomes.claimAttempts([id!], 60_000)).toEqual(new Map([[id, 1]]));
    // The gateway's outcome write is held up past the lease; the poller fails the send and it goes out again.
    const later = new Date(Date.now() + 86_400_000);
    expect((await store.failUnanswered(later, 10)).map((e) => e.deliveryId)).toEqual([id]);
    await store.scheduleFailed(later, 10, () => 0);
    expect((await store.claimDue(new Date(later.getTime() + 1), 60_000, 10)).batches).toHaveLength(1);
    expect(await outcomes.claimAttempts([id!], 60_000)).toEqual(new Map([[id, 2]]));

    expect(await outcomes.record([{ deliveryId: id!, status: 'failed', error: 'ack_timeout', attempt: 1 }])).toEqual([]);
    const [second] = await statusOf([id!]);
    expect(second!.status).toBe('sent');
    expect(second!.next_attempt_at).not.toBeNull();
    const delivered = await outcomes.record([{ deliveryId: id!, status: 'delivered', error: null, attempt: 1 }]);
    expect(delivered.map((e) => [e.status, e.attempt])).toEqual([['delivered', 2]]);
    expect(await statusOf([id!])).toEqual([{ status: 'delivered', next_attempt_at: null }]);
  });

  it('finds the receivers with anything due through an index, without reading every delivery', async () => {
    await seed('u-due', 3, { status: 'failed', nextAttemptAt: at(-1) });
    for (let i = 0; i < 400; i++) await seed(`u-done-${i}`, 10, { status: 'delivered' });
    for (let i = 0; i < 100; i++) await seed(`u-in-flight-${i}`, 5, { status: 'sent', nextAttemptAt: at(60_000) });
    await first.query('ANALYZE deliveries');
    const runner = first.createQueryRunner();
    try {
      await runner.startTransaction();
      // Whether an index can answer: with sequential scans priced out, every delivery read is one no index let the plan skip.
      await runner.query('SET LOCAL enable_seqscan = off');
      const [{ 'QUERY PLAN': [plan] }] = (await runner.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${FIND_DUE}`, [T0, 100, null, MAX_CLAIM_JOBS])) as [{ 'QUERY PLAN': [{ Plan: PlanNode }] }];
      // The search for receivers with anything due (the statement's `due`) reads the due rows, not the
      // 4,500 other deliveries; then only the due receiver's own rows are found.
      expect(deliveriesRead(subplan(plan.Plan, 'CTE due')!)).toBeLessThan(50);
      expect(plan.Plan['Actual Rows']).toBe(3);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('finds the newly failed deliveries without reading the held tiers that wait without a time', async () => {
    // The SMS tiers of an escalate route without `after`, held until their messages expire.
    for (let i = 0; i < 200; i++) await seed(`u-held-${i}`, 10, { status: 'held', nextAttemptAt: null, channel: 'sms' });
    await seed('u-failed', 3, { status: 'failed', nextAttemptAt: null });
    await first.query('ANALYZE deliveries');
    const runner = first.createQueryRunner();
    try {
      await runner.startTransaction();
      await runner.query('SET LOCAL enable_seqscan = off');
      const [{ 'QUERY PLAN': [plan] }] = (await runner.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${FIND_FAILED}`, [500])) as [{ 'QUERY PLAN': [{ Plan: PlanNode }] }];
      expect(plan.Plan['Actual Rows']).toBe(3);
      // The 3 failed rows, not the 2,000 held ones.
      expect(deliveriesRead(plan.Plan)).toBeLessThan(20);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it("reads a due receiver's pending deliveries without reading the rest of its history", async () => {
    await seed('u-long', 2_000, { status: 'delivered' });
    await seed('u-long', 3, { status: 'failed', nextAttemptAt: at(-1) });
    // Before and after the table has statistics: a fresh installation has none.
    for (const analyze of [false, true]) {
      if (analyze) await first.query('ANALYZE deliveries');
      const runner = first.createQueryRunner();
      try {
        await runner.startTransaction();
        await runner.query('SET LOCAL enable_seqscan = off');
        const [{ 'QUERY PLAN': [plan] }] = (await runner.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${FIND_DUE}`, [T0, 100, null, MAX_CLAIM_JOBS])) as [{ 'QUERY PLAN': [{ Plan: PlanNode }] }];
        expect(plan.Plan['Actual Rows']).toBe(3);
        // The 3 pending rows (found twice: as due, then as the receiver's batch), not its 2,000 delivered ones.
        expect(deliveriesRead(plan.Plan)).toBeLessThan(20);
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
    }
  });

  it('looks at a bounded number of due rows per poll however many are due, and drains them all', async () => {
    for (let u = 0; u < 60; u++) await seed(`u-backlog-${u}`, 10, { status: 'failed', nextAttemptAt: at(-1) });
    const runner = first.createQueryRunner();
    try {
      await runner.startTransaction();
      // 600 rows are due; a search for 5 receivers that looks at the first 100 reads no more than those.
      const [{ 'QUERY PLAN': [plan] }] = (await runner.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${FIND_DUE}`, [T0, 5, 100, MAX_CLAIM_JOBS])) as [{ 'QUERY PLAN': [{ Plan: PlanNode }] }];
      expect(deliveriesRead(subplan(plan.Plan, 'CTE due')!)).toBeLessThanOrEqual(100);
      expect(plan.Plan['Actual Rows']).toBe(50);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    const store = new ResendStore(first);
    const claimed: string[] = [];
    for (let poll = 0; poll < 20; poll++) claimed.push(...(await store.claimDue(T0, 60_000, 5)).batches.flatMap((b) => b.jobs.map((j) => j.deliveryId)));
    expect(new Set(claimed).size).toBe(600);
    expect(claimed).toHaveLength(600);
  });
});

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Subplan Name'?: string;
  Plans?: PlanNode[];
}

function subplan(node: PlanNode, name: string): PlanNode | undefined {
  if (node['Subplan Name'] === name) return node;
  for (const child of node.Plans ?? []) {
    const found = subplan(child, name);
    if (found) return found;
  }
  return undefined;
}

/** Rows of the deliveries partitions that the plan's scans read, kept or filtered out. */
function deliveriesRead(node: PlanNode): number {
  const own = node['Relation Name']?.startsWith('deliveries')
    ? ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * (node['Actual Loops'] ?? 1)
    : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + deliveriesRead(child), 0);
}
