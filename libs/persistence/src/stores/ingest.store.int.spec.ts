import { Client } from 'pg';
import { eventually } from '@notify/testing';
import { newId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { IngestStore, type IngestResult, type PlannedDelivery, type PlannedMessage } from './ingest.store';
import { plannedDelivery, plannedMessage } from './planned.spec-helper';
import { ROWS_PER_STATEMENT } from './rows';

const T0 = new Date('2030-06-01T09:00:00Z');

/**
 * A replayed request stores nothing new, and hands back what its first pass may have failed to
 * produce after the commit: the jobs of its deliveries still queued and the events of the outcomes
 * decided while routing.
 */
describe('IngestStore', () => {
  const database = migratedDatabase();

  const delivery = (overrides: Partial<PlannedDelivery>): PlannedDelivery => plannedDelivery(T0, overrides);
  const message = (requestId: string, deliveries: PlannedDelivery[], expiresAt: Date | null = null): PlannedMessage =>
    plannedMessage(requestId, T0, deliveries, { expiresAt });

  it('hands a replayed request’s queued jobs and routing outcomes back, and nothing a later step decided', async () => {
    const queued = delivery({});
    const unreachable = delivery({ channel: 'sms', endpoint: 'none:u-1', status: 'dead', lastError: 'no_endpoint' });
    const heldThenExpired = delivery({ channel: 'push', endpoint: 'fcm:u-1/phone', tier: 1, status: 'held', nextAttemptAt: new Date(T0.getTime() + 60_000) });
    const reachable = message('r-reachable', [queued, unreachable, heldThenExpired], new Date(T0.getTime() + 3_600_000));
    const tooLate = delivery({ status: 'expired' });
    const expired = message('r-expired', [tooLate], new Date(T0.getTime() - 1));
    const store = new IngestStore(database.dataSource());

    const first = await store.ingest([reachable, expired]);
    expect(first.stored).toBe(2);
    expect(first.jobs.map((j) => j.deliveryId)).toEqual([queued.id]);
    expect(first.events.map((e) => [e.deliveryId, e.status, e.error]).sort()).toEqual(
      [
        [unreachable.id, 'dead', 'no_endpoint'],
        [tooLate.id, 'expired', null],
      ].sort(),
    );

    // A later step ends the held tier: its event is that step's to publish, not the replay's.
    await database.dataSource().query(`UPDATE deliveries SET status = 'expired' WHERE id = $1`, [heldThenExpired.id]);
    const replay = await store.ingest([reachable, expired]);
    expect(replay.stored).toBe(0);
    expect(replay.jobs.map((j) => j.deliveryId)).toEqual([queued.id]);
    expect(replay.events.map((e) => ({ ...e, at: new Date(e.at) })).sort((a, b) => a.deliveryId!.localeCompare(b.deliveryId!))).toEqual(
      first.events.map((e) => ({ ...e, at: new Date(e.at) })).sort((a, b) => a.deliveryId!.localeCompare(b.deliveryId!)),
    );
    const [{ n }] = await database.dataSource().query(`SELECT count(*)::int AS n FROM deliveries`);
    expect(n).toBe(4);
  });

  it('hands a replayed request’s push job its inbox number, as its first pass did', async () => {
    const browser = delivery({ userId: 'u-seq', endpoint: 'inbox:u-seq' });
    const phone = delivery({ userId: 'u-seq', channel: 'push', endpoint: 'fcm:u-seq/phone' });
    const pushed = message('r-pushed-too', [browser, phone]);
    const store = new IngestStore(database.dataSource());

    const numbers = (result: IngestResult) => result.jobs.map((j) => [j.channel, j.message.seq]).sort();
    const first = await store.ingest([pushed]);
    expect(numbers(first)).toEqual([
      ['push', 1],
      ['websocket', 1],
    ]);
    expect(numbers(await store.ingest([pushed]))).toEqual(numbers(first));
  });

  it('numbers only a batch’s new requests, after each user’s last number and in the batch’s order, the same in the inbox, the deliveries and the jobs', async () => {
    const to = (userId: string) => delivery({ id: newId(T0), userId, endpoint: `inbox:${userId}` });
    const forUser = (requestId: string, ...users: string[]) => message(requestId, users.map(to));
    await database.dataSource().query(`INSERT INTO inbox_sequences (user_id, last_seq) VALUES ('u-numbered', 5)`);
    const store = new IngestStore(database.dataSource());
    const before = forUser('r-before', 'u-numbered');
    await store.ingest([before]);

    const batch = [forUser('r-first', 'u-numbered'), before, forUser('r-both', 'u-numbered', 'u-new'), forUser('r-last', 'u-numbered')];
    const { jobs, stored } = await store.ingest(batch);

    expect(stored).toBe(3);
    const numbers = jobs.map((j) => [j.requestId, j.userId, j.message.seq]);
    expect(numbers).toEqual([
      ['r-first', 'u-numbered', 7],
      ['r-both', 'u-numbered', 8],
      ['r-both', 'u-new', 1],
      ['r-last', 'u-numbered', 9],
      // The replayed request's job, handed out again with the number its first pass gave it.
      ['r-before', 'u-numbered', 6],
    ]);
    const rows = await database.dataSource().query(
      `SELECT k.request_id, i.user_id, i.seq::int AS inbox, d.seq::int AS delivery
         FROM request_keys k
         JOIN inbox_entries i ON i.message_id = k.message_id
         JOIN deliveries d ON d.message_id = k.message_id AND d.user_id = i.user_id
        WHERE i.user_id IN ('u-numbered', 'u-new')
        ORDER BY i.user_id, i.seq`,
    );
    expect(rows.map((row: { request_id: string; user_id: string; inbox: number; delivery: number }) => [row.request_id, row.user_id, row.inbox, row.delivery])).toEqual([
      ['r-both', 'u-new', 1, 1],
      ['r-before', 'u-numbered', 6, 6],
      ['r-first', 'u-numbered', 7, 7],
      ['r-both', 'u-numbered', 8, 8],
      ['r-last', 'u-numbered', 9, 9],
    ]);
    const [{ last }] = await database.dataSource().query(`SELECT last_seq::int AS last FROM inbox_sequences WHERE user_id = 'u-numbered'`);
    expect(last).toBe(9);
  });

  /**
   * Stores `batch` while another transaction holds the inbox row of `heldUser`, runs `probe` (in a
   * transaction of its own, rolled back) once the batch waits for that row, then lets the batch go on.
   */
  async function whileWaitingForInbox<T>(heldUser: string, batch: PlannedMessage[], probe: (client: Client) => Promise<T>): Promise<{ probed: T; written: IngestResult }> {
    const holder = new Client({ connectionString: database.url() });
    const prober = new Client({ connectionString: database.url() });
    await Promise.all([holder.connect(), prober.connect()]);
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM inbox_sequences WHERE user_id = $1 FOR UPDATE', [heldUser]);
      const writing = new IngestStore(database.dataSource()).ingest(batch);
      await eventually(
        async () => (await prober.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`)).rows[0].n,
        (waiting: number) => waiting === 1,
      );
      await prober.query('BEGIN');
      const probed = await probe(prober).finally(() => prober.query('ROLLBACK'));
      await holder.query('ROLLBACK');
      return { probed, written: await writing };
    } finally {
      await Promise.all([holder.end(), prober.end()]);
    }
  }

  it('locks users’ inbox numbers in the order JavaScript sorts them, as every other writer of inbox numbers does', async () => {
    // U+1F600 sorts before U+FF21 in JavaScript (by UTF-16 units) and after it in PostgreSQL's C
    // collation (by code points), as `Bob` and `alice` swap between JavaScript and en_US.
    const [early, late] = ['\u{1F600}-user', '\uFF21-user'];
    await database.dataSource().query(`INSERT INTO inbox_sequences (user_id, last_seq) VALUES ($1, 0), ($2, 0)`, [early, late]);
    const batch = [late, early].map((userId) => message(`r-lock-${userId}`, [delivery({ id: newId(T0), userId, endpoint: `inbox:${userId}` })]));

    // The batch waits for the first user in its order, which the holder has; so it has not locked the second yet.
    const { probed, written } = await whileWaitingForInbox(early, batch, (prober) => prober.query('SELECT 1 FROM inbox_sequences WHERE user_id = $1 FOR UPDATE NOWAIT', [late]));

    expect(probed.rowCount).toBe(1);
    expect(written.jobs.map((j) => [j.userId, j.message.seq])).toEqual([
      [late, 1],
      [early, 1],
    ]);
  });

  it.each([
    ['in one statement', 1],
    ['in a statement per table (a broadcast too large for one)', ROWS_PER_STATEMENT + 1],
  ])('locks the users’ inbox numbers before any counter row when it stores a batch %s', async (_way, audience) => {
    const type = `lock.order.${audience}`;
    const users = Array.from({ length: audience }, (_, i) => `counted-${audience}-${String(i).padStart(6, '0')}`);
    const db = database.dataSource();
    await db.query(`INSERT INTO inbox_sequences (user_id, last_seq) VALUES ($1, 0)`, [users[0]]);
    // Every counter row the batch's triggers could take, made beforehand so that a lock on one shows.
    await db.query(
      `INSERT INTO daily_delivery_stats (type, day, slot)
       SELECT $1, d::date, s FROM generate_series($2::date - 1, $2::date + 1, interval '1 day') AS d, generate_series(0, 63) AS s`,
      [type, T0.toISOString().slice(0, 10)],
    );
    const broadcast = plannedMessage(`r-${type}`, T0, users.map((userId) => delivery({ id: newId(T0), userId, endpoint: `inbox:${userId}` })), { type });

    // Waiting for the first inbox row, the batch holds no counter row.
    const { probed, written } = await whileWaitingForInbox(users[0]!, [broadcast], (prober) => prober.query('SELECT 1 FROM daily_delivery_stats WHERE type = $1 FOR UPDATE NOWAIT', [type]));

    expect(probed.rowCount).toBe(3 * 64);
    expect(written.stored).toBe(1);
  });

  it('fires the messages’ counter trigger before the deliveries’, as the transaction of a statement per table did', async () => {
    // Both take counter rows of the batch's types; the messages' takes all of them in one sorted pass.
    // Fired the other way round, two batches could each hold a row the other's messages' trigger wants.
    const db = database.dataSource();
    await db.query(`CREATE TABLE triggers_fired (n serial, name text)`);
    await db.query(`CREATE FUNCTION log_trigger_fired() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO triggers_fired (name) VALUES (TG_TABLE_NAME); RETURN NULL; END $$`);
    for (const table of ['messages', 'deliveries']) {
      await db.query(`CREATE TRIGGER log_${table} AFTER INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION log_trigger_fired()`);
    }
    try {
      await new IngestStore(db).ingest([message('r-triggers', [delivery({ id: newId(T0), userId: 'u-triggers', endpoint: 'inbox:u-triggers' })])]);
      const fired = await db.query(`SELECT name FROM triggers_fired ORDER BY n`);
      expect(fired.map((row: { name: string }) => row.name)).toEqual(['messages', 'deliveries']);
    } finally {
      for (const table of ['messages', 'deliveries']) await db.query(`DROP TRIGGER log_${table} ON ${table}`);
    }
  });

  it('stores a broadcast to more subscribers than one statement takes, each with the next number of their inbox', async () => {
    const users = Array.from({ length: ROWS_PER_STATEMENT * 2 + 5 }, (_, i) => `broadcast-${i}`);
    await database.dataSource().query(`INSERT INTO inbox_sequences (user_id, last_seq) VALUES ($1, 41)`, [users.at(-1)]);
    const broadcast = message('r-broadcast', users.map((userId) => delivery({ id: newId(T0), userId, endpoint: `inbox:${userId}` })));

    const { jobs, stored } = await new IngestStore(database.dataSource()).ingest([broadcast]);

    expect(stored).toBe(1);
    expect(new Set(jobs.map((j) => j.userId)).size).toBe(users.length);
    const seqOf = new Map(jobs.map((j) => [j.userId, j.message.seq]));
    expect([users[0]!, users[ROWS_PER_STATEMENT]!, users.at(-1)!].map((u) => seqOf.get(u))).toEqual([1, 1, 42]);
    const [counts] = await database.dataSource().query(
      `SELECT (SELECT count(*)::int FROM deliveries WHERE message_id = $1) AS deliveries, (SELECT count(*)::int FROM inbox_entries WHERE message_id = $1) AS inbox`,
      [broadcast.id],
    );
    expect(counts).toEqual({ deliveries: users.length, inbox: users.length });
  });

  it('hands a replayed broadcast’s jobs back sharing one copy of its data and texts, as its first pass did', async () => {
    const users = Array.from({ length: 300 }, (_, i) => `replayed-${i}`);
    const data = { note: 'x'.repeat(60_000) };
    const contents = [
      { locale: 'en', title: 'Hello', body: 'y'.repeat(20_000) },
      { locale: 'de', title: 'Hallo', body: 'z'.repeat(20_000) },
    ];
    const broadcast = plannedMessage(
      'r-replayed-broadcast',
      T0,
      users.map((userId, i) => delivery({ userId, endpoint: `inbox:${userId}`, locale: i % 2 ? 'de' : 'en' })),
      { data, contents },
    );
    const store = new IngestStore(database.dataSource());
    await store.ingest([broadcast]);

    // The offsets were not committed: the whole batch comes again.
    const { jobs, stored } = await store.ingest([broadcast]);

    expect(stored).toBe(0);
    expect(jobs).toHaveLength(users.length);
    expect(jobs[0]!.message.data).toEqual(data);
    expect(new Set(jobs.map((j) => j.message.data)).size).toBe(1);
    const byLocale = (locale: string) => jobs.filter((j) => j.locale === locale);
    expect(byLocale('de').map((j) => j.message.body)).toEqual(Array.from({ length: 150 }, () => 'z'.repeat(20_000)));
    expect(new Set(byLocale('en').map((j) => j.message.title))).toEqual(new Set(['Hello']));
  });

  it('stores a delivery for each recipient of a phone they share', async () => {
    const shared = (userId: string) => delivery({ userId, channel: 'sms', endpoint: '+8613800000009' });
    const family = message('r-family', [shared('u-parent'), shared('u-child')]);
    const { jobs } = await new IngestStore(database.dataSource()).ingest([family]);
    expect(jobs.map((j) => j.userId).sort()).toEqual(['u-child', 'u-parent']);
    const rows = await database.dataSource().query(`SELECT user_id FROM deliveries WHERE message_id = $1 ORDER BY user_id`, [family.id]);
    expect(rows).toEqual([{ user_id: 'u-child' }, { user_id: 'u-parent' }]);
  });
});
