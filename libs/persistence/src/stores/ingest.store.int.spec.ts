import { Client } from 'pg';
import { eventually } from '@notify/testing';
import { createDataSource } from '../data-source';
import { newId, timeOfId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { maintainPartitions } from '../partitions';
import { withSessionSettings } from '../session-settings';
import { IngestStore, type IngestResult, type PlannedDelivery, type PlannedMessage } from './ingest.store';
import { plannedDelivery, plannedMessage } from './planned.spec-helper';
import { ROWS_PER_STATEMENT } from './rows';

const T0 = new Date('2030-06-01T09:00:00Z');
/** When a batch stopped part-way at T0 is planned again. */
const T1 = new Date(T0.getTime() + 60_000);

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

  it('gives the email jobs of a message to a topic its topic, on the first pass and a replay, and no other job one', async () => {
    const browser = delivery({ userId: 'u-topic', endpoint: 'inbox:u-topic' });
    const mail = delivery({ userId: 'u-topic', channel: 'email', endpoint: 'u-topic@example.com' });
    const toTopic = plannedMessage('r-to-topic', T0, [browser, mail], { recipient: { topic: 'promotions' } });
    const toUser = plannedMessage('r-to-user', T0, [delivery({ userId: 'u-topic', channel: 'email', endpoint: 'u-topic@example.com' })]);
    const store = new IngestStore(database.dataSource());

    const topics = (result: IngestResult) => result.jobs.map((j) => [j.requestId, j.channel, j.message.topic]).sort();
    const first = await store.ingest([toTopic, toUser]);
    expect(topics(first)).toEqual([
      ['r-to-topic', 'email', 'promotions'],
      ['r-to-topic', 'websocket', undefined],
      ['r-to-user', 'email', undefined],
    ]);
    expect(topics(await store.ingest([toTopic, toUser]))).toEqual(topics(first));
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
    ['in steps (a broadcast too large for one statement)', ROWS_PER_STATEMENT + 1],
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

  describe('a broadcast too large for one statement, stored a slice of users at a time', () => {
    /** `size` users whose names sort (in JavaScript) in the order of their numbers: the first 20,000 are the first slice. */
    const audience = (tag: string, size: number) => Array.from({ length: size }, (_, i) => `${tag}-${String(i).padStart(6, '0')}`);
    /** A request planned at `at` to each of `users`' browsers. */
    const toEach = (requestId: string, users: string[], at = T0) =>
      plannedMessage(requestId, at, users.map((userId) => plannedDelivery(at, { userId, endpoint: `inbox:${userId}` })));
    const sorted = (ids: string[]) => [...ids].sort();
    /** The ids of the request's deliveries still queued, and how many inbox entries, deliveries and users it has. */
    async function storedOf(requestId: string) {
      const db = database.dataSource();
      const [counts] = await db.query(
        `SELECT m.id, m.created_at,
                (SELECT count(*)::int FROM messages x WHERE x.request_id = k.request_id) AS messages,
                (SELECT count(*)::int FROM inbox_entries e WHERE e.message_id = m.id) AS entries,
                (SELECT count(DISTINCT e.user_id)::int FROM inbox_entries e WHERE e.message_id = m.id) AS "placedUsers",
                (SELECT count(*)::int FROM deliveries d WHERE d.message_id = m.id) AS deliveries,
                (SELECT count(DISTINCT (d.channel, d.endpoint, d.user_id))::int FROM deliveries d WHERE d.message_id = m.id) AS targets,
                (SELECT count(*)::int FROM unfinished_requests u WHERE u.request_id = k.request_id) AS unfinished
           FROM request_keys k JOIN messages m ON m.id = k.message_id AND m.created_at = k.created_at
          WHERE k.request_id = $1`,
        [requestId],
      );
      const queued = await db.query(`SELECT d.id FROM request_keys k JOIN deliveries d ON d.message_id = k.message_id WHERE k.request_id = $1 AND d.status = 'queued'`, [requestId]);
      return { ...counts, queued: sorted(queued.map((row: { id: string }) => row.id)) };
    }
    /** Users among `users` whose inbox numbers are not 1 to their last number, each once. */
    async function withGaps(users: string[]): Promise<string[]> {
      const rows = await database.dataSource().query(
        `SELECT s.user_id FROM inbox_sequences s LEFT JOIN inbox_entries e ON e.user_id = s.user_id
          WHERE s.user_id = ANY($1::varchar[])
          GROUP BY s.user_id, s.last_seq
         HAVING count(e.seq) <> s.last_seq OR count(DISTINCT e.seq) <> s.last_seq OR min(e.seq) <> 1 OR max(e.seq) <> s.last_seq`,
        [users],
      );
      return rows.map((row: { user_id: string }) => row.user_id);
    }
    /** Stores `batch` and stops after its first slice, as a process told to stop does (the batch is not committed to Kafka). */
    async function stopAfterFirstSlice(store: IngestStore, batch: PlannedMessage[]): Promise<void> {
      const stop = () => {
        throw new Error('the process was stopped after the first slice');
      };
      await expect(store.ingest(batch, stop)).rejects.toThrow('the process was stopped after the first slice');
    }

    it('holds a subscriber’s inbox number for one slice only: a one-time code to a user of the first slice is stored while a later slice waits', async () => {
      const users = audience('held', ROWS_PER_STATEMENT + 5);
      const laterSlice = users[ROWS_PER_STATEMENT]!;
      await database.dataSource().query(`INSERT INTO inbox_sequences (user_id, last_seq) VALUES ($1, 0)`, [laterSlice]);
      const code = toEach('r-held-code', [users[0]!]);
      // A writer that gives up after 5 s rather than wait for the broadcast's commit (so this test cannot hang).
      const impatient = await createDataSource({ databaseUrl: withSessionSettings(database.url(), { statement_timeout: '5000' }), databasePoolSize: 1 }).initialize();
      try {
        // The broadcast waits for the first user of its second slice, whose inbox row another session holds.
        const { probed, written } = await whileWaitingForInbox(laterSlice, [toEach('r-held-broadcast', users)], () => new IngestStore(impatient).ingest([code]));

        expect(probed.jobs.map((j) => [j.userId, j.message.seq])).toEqual([[users[0], 2]]);
        expect(written.jobs.filter((j) => j.userId === users[0] || j.userId === laterSlice).map((j) => [j.userId, j.message.seq])).toEqual([
          [users[0], 1],
          [laterSlice, 1],
        ]);
      } finally {
        await impatient.destroy();
      }
    });

    it.each([
      ['its whole audience', 'again', (users: string[]) => users],
      ['only the users it had not reached, an audience that fits one statement now', 'fewer', (users: string[]) => users.slice(ROWS_PER_STATEMENT)],
    ])('resumes a batch stopped after its first slice when it comes again, planned anew with %s: each user placed once, numbers without gaps', async (_case, tag, replanned) => {
      const users = audience(`stopped-${tag}`, ROWS_PER_STATEMENT + 5);
      const [broadcastId, phoneId] = [`r-stopped-${tag}`, `r-stopped-phone-${tag}`];
      const batchAt = (at: Date, to: string[]) => [
        toEach(broadcastId, to, at),
        // A request to a phone number: a delivery without a user, stored by the last transaction.
        plannedMessage(phoneId, at, [plannedDelivery(at, { userId: null, channel: 'sms', endpoint: '+15550100' })]),
      ];
      const store = new IngestStore(database.dataSource());
      const first = batchAt(T0, users);
      await stopAfterFirstSlice(store, first);
      // Meanwhile a one-time code to a user the broadcast has not reached.
      const notReached = users[ROWS_PER_STATEMENT]!;
      await store.ingest([toEach(`r-code-${tag}`, [notReached])]);

      // The batch was not committed to Kafka: after a restart it is planned again, with new ids.
      const { jobs, stored } = await store.ingest(batchAt(T1, replanned(users)));

      // Both requests are counted once, here, where they end: the stopped pass returned nothing.
      expect(stored).toBe(2);
      const broadcast = await storedOf(broadcastId);
      expect(broadcast).toMatchObject({ id: first[0]!.id, created_at: T0, messages: 1, entries: users.length, placedUsers: users.length, deliveries: users.length, targets: users.length, unfinished: 0 });
      const phone = await storedOf(phoneId);
      expect(phone).toMatchObject({ id: first[1]!.id, messages: 1, deliveries: 1, unfinished: 0 });
      expect(await withGaps(users)).toEqual([]);
      const [{ seqs }] = await database.dataSource().query(`SELECT array_agg(seq::int ORDER BY seq) AS seqs FROM inbox_entries WHERE user_id = $1`, [notReached]);
      expect(seqs).toEqual([1, 2]);
      // Every delivery still queued is handed out, under its stored id, which carries its message's time.
      expect(sorted(jobs.map((j) => j.deliveryId))).toEqual(sorted([...broadcast.queued, ...phone.queued]));
      expect(jobs.every((j) => timeOfId(j.deliveryId)?.getTime() === T0.getTime())).toBe(true);
    });

    it('stores nothing again for a broadcast stored to its end, and hands its queued jobs out again', async () => {
      const users = audience('finished', ROWS_PER_STATEMENT + 5);
      const store = new IngestStore(database.dataSource());
      const first = await store.ingest([toEach('r-finished', users)]);
      const before = await storedOf('r-finished');
      const [{ numbers }] = await database.dataSource().query(`SELECT sum(last_seq)::int AS numbers FROM inbox_sequences WHERE user_id = ANY($1::varchar[])`, [users]);

      const again = await store.ingest([toEach('r-finished', users, T1)]);

      expect(again.stored).toBe(0);
      expect(await storedOf('r-finished')).toEqual(before);
      const [after] = await database.dataSource().query(`SELECT sum(last_seq)::int AS numbers FROM inbox_sequences WHERE user_id = ANY($1::varchar[])`, [users]);
      expect(after.numbers).toBe(numbers);
      expect(sorted(again.jobs.map((j) => j.deliveryId))).toEqual(sorted(first.jobs.map((j) => j.deliveryId)));
      expect(before.queued).toEqual(sorted(first.jobs.map((j) => j.deliveryId)));
    });

    it('records an expired outcome for each user a resumed request reaches past its expiry, the users its first pass had not reached', async () => {
      const users = audience('expiring', ROWS_PER_STATEMENT + 5);
      const expiresAt = new Date(T0.getTime() + 1_000);
      const planned = (at: Date, status: PlannedDelivery['status']) =>
        plannedMessage('r-expiring', at, users.map((userId) => plannedDelivery(at, { userId, endpoint: `inbox:${userId}`, status })), { expiresAt });
      const store = new IngestStore(database.dataSource());
      await stopAfterFirstSlice(store, [planned(T0, 'queued')]);

      // Planned again past its expiry, as the planner plans a request whose expiresAt has passed: every delivery expired.
      const { events, jobs } = await store.ingest([planned(new Date(T0.getTime() + 2_000), 'expired')]);

      const notReached = users.slice(ROWS_PER_STATEMENT);
      expect(events.map((e) => [e.userId, e.status, e.attempt, e.at])).toEqual(notReached.map((userId) => [userId, 'expired', 0, T0.toISOString()]));
      const rows = await database.dataSource().query(
        `SELECT d.id, d.status, d.expires_at FROM request_keys k JOIN deliveries d ON d.message_id = k.message_id WHERE k.request_id = 'r-expiring' AND d.user_id = ANY($1::varchar[])`,
        [notReached],
      );
      expect(sorted(events.map((e) => e.deliveryId!))).toEqual(sorted(rows.map((row: { id: string }) => row.id)));
      expect(rows.every((row: { status: string; expires_at: Date }) => row.status === 'expired' && row.expires_at.getTime() === expiresAt.getTime())).toBe(true);
      // What the first pass stored goes out again.
      expect(jobs).toHaveLength(ROWS_PER_STATEMENT);
    });

    it('stores a resumed request’s deliveries with its stored message’s expiry, and a text in each of their locales, the stored ones kept', async () => {
      const users = audience('relocated', ROWS_PER_STATEMENT + 5);
      const notReached = users.slice(ROWS_PER_STATEMENT);
      const ttlMs = 3_600_000;
      const en = { locale: 'en', title: 'Hello', body: 'Hi' };
      // Planned at `at` for a request without an expiresAt of its own: it expires a time to live later.
      // A user the first pass did not reach has no endpoint for SMS.
      const planned = (at: Date, contents: PlannedMessage['contents'], localeOf: (userId: string) => string) =>
        plannedMessage(
          'r-relocated',
          at,
          [
            ...users.map((userId) => plannedDelivery(at, { userId, endpoint: `inbox:${userId}`, locale: localeOf(userId) })),
            plannedDelivery(at, { userId: notReached[0]!, channel: 'sms', endpoint: `none:${notReached[0]}`, status: 'dead', lastError: 'no_endpoint' }),
          ],
          { expiresAt: new Date(at.getTime() + ttlMs), contents },
        );
      const store = new IngestStore(database.dataSource());
      const first = planned(T0, [en], () => 'en');
      await stopAfterFirstSlice(store, [first]);

      // Since then the users not reached have chosen German; the replay renders both locales anew.
      const relocated = (userId: string) => (notReached.includes(userId) ? 'de' : 'en');
      const { jobs, events } = await store.ingest([planned(T1, [{ ...en, title: 'Hello again' }, { locale: 'de', title: 'Hallo', body: 'Hallo du' }], relocated)]);

      const [stored] = await database.dataSource().query(`SELECT contents FROM messages WHERE id = $1`, [first.id]);
      expect(stored.contents).toEqual({ en: { title: 'Hello', body: 'Hi' }, de: { title: 'Hallo', body: 'Hallo du' } });
      const texts = new Set(jobs.map((j) => [j.userId, j.locale, j.message.title, j.expiresAt].join(' ')));
      expect(texts).toEqual(new Set(users.map((userId) => [userId, relocated(userId), relocated(userId) === 'de' ? 'Hallo' : 'Hello', new Date(T0.getTime() + ttlMs).toISOString()].join(' '))));
      const expiries = await database.dataSource().query(`SELECT DISTINCT expires_at FROM deliveries WHERE message_id = $1`, [first.id]);
      expect(expiries).toEqual([{ expires_at: new Date(T0.getTime() + ttlMs) }]);
      // The delivery with no endpoint the resume stored: its outcome once.
      expect(events.map((e) => [e.userId, e.channel, e.status, e.error])).toEqual([[notReached[0], 'sms', 'dead', 'no_endpoint']]);
    });

    it('tells a request stored in part from one stored to its end when a copy of it cannot be planned, and hands out what was stored', async () => {
      const users = audience('in-part', ROWS_PER_STATEMENT + 1);
      const store = new IngestStore(database.dataSource());
      await stopAfterFirstSlice(store, [toEach('r-in-part', users)]);
      await store.ingest([toEach('r-whole', ['u-whole'])]);

      const replay = await store.replayOf(['r-in-part', 'r-whole', 'r-never-stored']);

      expect(sorted(replay.requestIds)).toEqual(['r-in-part', 'r-whole']);
      expect(replay.unfinished).toEqual(['r-in-part']);
      expect(replay.jobs.filter((j) => j.requestId === 'r-in-part')).toHaveLength(ROWS_PER_STATEMENT);
      await database.dataSource().query(`DELETE FROM unfinished_requests WHERE request_id = 'r-in-part'`);
    });

    it('forgets an unfinished request when retention purges the request ids of its claim’s age, and stores the id anew when it comes again', async () => {
      const claimedAt = new Date('2030-01-08T09:00:00Z');
      const users = audience('purged', ROWS_PER_STATEMENT + 1);
      const db = database.dataSource();
      const store = new IngestStore(db);
      await stopAfterFirstSlice(store, [toEach('r-purged', users, claimedAt)]);
      // Claimed by the database's clock: as it read when the request was planned.
      await db.query(`UPDATE unfinished_requests SET claimed_at = $1 WHERE request_id = 'r-purged'`, [claimedAt]);
      await db.query(`INSERT INTO unfinished_requests (request_id, claimed_at) VALUES ('r-claimed-lately', $1)`, [T0]);

      // Thirty days kept: the week of 2030-01-08 is past them, T0's is not.
      await maintainPartitions(db, { now: new Date('2030-03-01T12:00:00Z'), daysAhead: 1, retentionDays: 30 });

      const unfinished = await db.query(`SELECT request_id FROM unfinished_requests WHERE request_id IN ('r-purged', 'r-claimed-lately')`);
      expect(unfinished).toEqual([{ request_id: 'r-claimed-lately' }]);
      // Nothing references a request id: its purge runs no foreign key's trigger per row.
      expect(await db.query(`SELECT conname FROM pg_constraint WHERE confrelid = 'request_keys'::regclass`)).toEqual([]);
      expect((await store.ingest([toEach('r-purged', users, T1)])).stored).toBe(1);
      await db.query(`DELETE FROM unfinished_requests WHERE request_id = 'r-claimed-lately'`);
    });

    it('takes over the unfinished row of an earlier use of a request id whose request key was purged first, and never resumes it', async () => {
      const users = audience('orphaned', ROWS_PER_STATEMENT + 1);
      const db = database.dataSource();
      const store = new IngestStore(db);
      await stopAfterFirstSlice(store, [toEach('r-orphaned', users)]);
      await db.query(`DELETE FROM request_keys WHERE request_id = 'r-orphaned'`);

      const again = toEach('r-orphaned', users, T1);
      const { stored, jobs } = await store.ingest([again]);

      expect(stored).toBe(1);
      expect(await storedOf('r-orphaned')).toMatchObject({ id: again.id, entries: users.length, placedUsers: users.length, deliveries: users.length, unfinished: 0 });
      expect(jobs).toHaveLength(users.length);
    });

    it('hands a new broadcast out from what was stored when another process resumed it between its slices', async () => {
      const users = audience('shared', ROWS_PER_STATEMENT + 5);
      const store = new IngestStore(database.dataSource());
      let resumed: IngestResult | undefined;

      // After its first slice, the partition's new owner (this one was dropped from the group and still
      // writes) plans the same batch again and stores the rest of it.
      const written = await store.ingest([toEach('r-shared', users)], async () => {
        resumed ??= await store.ingest([toEach('r-shared', users, T1)]);
      });

      // Counted once, by the call that ended it: the resume.
      expect([written.stored, resumed?.stored]).toEqual([0, 1]);
      const stored = await storedOf('r-shared');
      expect(stored).toMatchObject({ entries: users.length, placedUsers: users.length, deliveries: users.length, unfinished: 0 });
      expect(await withGaps(users)).toEqual([]);
      // Both hand out what was stored, none a delivery the other planned and did not store.
      expect(sorted(written.jobs.map((j) => j.deliveryId))).toEqual(stored.queued);
      expect(sorted(resumed!.jobs.map((j) => j.deliveryId))).toEqual(stored.queued);
    });
  });
});
