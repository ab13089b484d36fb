import { newId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { IngestStore, type PlannedDelivery, type PlannedMessage } from './ingest.store';
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
