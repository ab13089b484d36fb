import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { eventually } from '@notify/testing';
import { createDataSource } from '../data-source';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { InboxStore, type ReadsPage } from './inbox.store';
import { IngestStore, type PlannedMessage } from './ingest.store';
import { plannedDelivery, plannedMessage } from './planned.spec-helper';

const HOUR = 3_600_000;

/** A sync page is what a browser shows: never a message past its expiry, however long it was offline. */
describe('InboxStore.after', () => {
  const database = migratedDatabase();

  /** A message for u-1's inbox, planned an hour ago (before it expired, so it has its inbox entry). */
  const message = (requestId: string, title: string, expiresAt: Date | null): PlannedMessage => {
    const createdAt = new Date(Date.now() - HOUR);
    return plannedMessage(requestId, createdAt, [plannedDelivery(createdAt)], { expiresAt, contents: [{ locale: 'en', title, body: 'b' }] });
  };

  it('leaves out a message past its expiry, pages over the gap it leaves, and reports the end of a page that has more, then the last number', async () => {
    await new IngestStore(database.dataSource()).ingest([
      message('r-kept', 'kept', null),
      message('r-expired', 'expired', new Date(Date.now() - 60_000)),
      message('r-later', 'expires later', new Date(Date.now() + HOUR)),
    ]);
    const inbox = new InboxStore(database.dataSource());

    const all = await inbox.after('u-1', 0, 10);
    expect(all).toEqual({ messages: [expect.objectContaining({ seq: 1, title: 'kept' }), expect.objectContaining({ seq: 3, title: 'expires later' })], lastSeq: 3, hasMore: false });

    // A client asks again with the `lastSeq` of a page that has more: the page's end.
    const first = await inbox.after('u-1', 0, 1);
    expect(first).toEqual({ messages: [expect.objectContaining({ seq: 1 })], lastSeq: 1, hasMore: true });
    const second = await inbox.after('u-1', first.lastSeq, 1);
    expect(second).toEqual({ messages: [expect.objectContaining({ seq: 3 })], lastSeq: 3, hasMore: false });
    expect(await inbox.after('u-1', 3, 1)).toEqual({ notModified: true, lastSeq: 3 });
  });

  it('ends a last page at its own last message when one was stored between reading the user’s last number and the page', async () => {
    const createdAt = new Date(Date.now() - HOUR);
    const to = { userId: 'u-between', endpoint: 'inbox:u-between' };
    await new IngestStore(database.dataSource()).ingest(
      ['r-b1', 'r-b2'].map((id) => plannedMessage(id, createdAt, [plannedDelivery(createdAt, to)], { recipient: { userId: 'u-between' } })),
    );
    // What the first read saw: the number before the second message's transaction committed.
    await database.dataSource().query(`UPDATE inbox_sequences SET last_seq = 1 WHERE user_id = 'u-between'`);
    const page = await new InboxStore(database.dataSource()).after('u-between', 0, 10);
    expect(page).toEqual({ messages: [expect.objectContaining({ seq: 1 }), expect.objectContaining({ seq: 2 })], lastSeq: 2, hasMore: false });
  });

  it('ends a page at the message that takes it to 512 KiB, however many were asked for', async () => {
    const createdAt = new Date(Date.now() - HOUR);
    const large = (requestId: string, data: Record<string, unknown>) => {
      const delivery = plannedDelivery(createdAt, { userId: 'u-large', endpoint: 'inbox:u-large' });
      return plannedMessage(requestId, createdAt, [delivery], { recipient: { userId: 'u-large' }, data, contents: [{ locale: 'en', title: 't', body: 'b'.repeat(150_000) }] });
    };
    // 150 KB of body and 60 KB of data each: the third reaches 512 KiB.
    await new IngestStore(database.dataSource()).ingest(['r-l1', 'r-l2', 'r-l3', 'r-l4', 'r-l5'].map((id) => large(id, { note: 'd'.repeat(60_000) })));
    const inbox = new InboxStore(database.dataSource());

    const first = await inbox.after('u-large', 0, 500);
    expect(first).toEqual({ messages: [1, 2, 3].map((seq) => expect.objectContaining({ seq })), lastSeq: 3, hasMore: true });
    const second = await inbox.after('u-large', first.lastSeq, 500);
    expect(second).toEqual({ messages: [4, 5].map((seq) => expect.objectContaining({ seq })), lastSeq: 5, hasMore: false });
  });

  it('reads no more rows than the page can hold, however many were asked for', async () => {
    const createdAt = new Date(Date.now() - HOUR);
    // 100 KB of data that does not compress: five come to 500 KB, the sixth reaches 512 KiB.
    const heavy = (n: number) =>
      plannedMessage(`r-h${n}`, createdAt, [plannedDelivery(createdAt, { userId: 'u-heavy', endpoint: 'inbox:u-heavy' })], {
        recipient: { userId: 'u-heavy' },
        data: { blob: randomBytes(75_000).toString('base64') },
      });
    await new IngestStore(database.dataSource()).ingest(Array.from({ length: 40 }, (_, n) => heavy(n)));
    // Every statement's rows, as the store receives them.
    const counted = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    const received: number[] = [];
    const runners = counted.createQueryRunner.bind(counted);
    counted.createQueryRunner = (...args) => {
      const runner = runners(...args);
      const query = runner.query.bind(runner) as (...a: unknown[]) => Promise<{ records?: unknown[] }>;
      runner.query = (async (...a: unknown[]) => {
        const result = await query(...a);
        received.push(result.records?.length ?? 0);
        return result;
      }) as typeof runner.query;
      return runner;
    };
    try {
      const page = await new InboxStore(counted).after('u-heavy', 0, 500);
      expect((page as { messages: { seq: number }[] }).messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(page).toMatchObject({ lastSeq: 6, hasMore: true });
      // The sequence, then the page: its 6 messages and none of the 34 after them.
      expect(received).toEqual([1, 6]);
    } finally {
      await counted.destroy();
    }
  });
});

describe('InboxStore.markRead', () => {
  const database = migratedDatabase();

  it('gives a message read without an acknowledgement before it the time it reached the user', async () => {
    const createdAt = new Date(Date.now() - HOUR);
    const planned = plannedMessage('r-offline', createdAt, [plannedDelivery(createdAt)]);
    await new IngestStore(database.dataSource()).ingest([planned]);
    // The user was offline when it went out; the page's sync showed it, and the user read it before any retry.
    await database.dataSource().query(`UPDATE deliveries SET status = 'failed', last_error = 'offline', attempts = 1`);

    const { read, events } = await new InboxStore(database.dataSource()).markRead('u-1', [planned.id]);

    expect(read).toEqual([planned.id]);
    expect(events.map((e) => e.status)).toEqual(['read']);
    const [row] = (await database.dataSource().query(`SELECT status, last_error, delivered_at FROM deliveries`)) as { status: string; last_error: string | null; delivered_at: Date | null }[];
    expect(row).toEqual({ status: 'read', last_error: null, delivered_at: expect.any(Date) });
  });

  it('runs a read again when PostgreSQL chose it as a deadlock’s victim', async () => {
    const createdAt = new Date(Date.now() - HOUR);
    const planned = plannedMessage('r-deadlock', createdAt, [plannedDelivery(createdAt)]);
    await new IngestStore(database.dataSource()).ingest([planned]);
    const deadlocks = async () =>
      Number(((await database.dataSource().query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)) as { deadlocks: string }[])[0]!.deadlocks);
    const before = await deadlocks();
    // Another transaction (an acknowledgement's, say) holds the delivery; its own deadlock check comes
    // late, so the read's comes first and makes the read the victim.
    const other = new Client({ connectionString: database.url() });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SET LOCAL deadlock_timeout = '60s'`);
      await other.query(`UPDATE deliveries SET updated_at = now() WHERE message_id = $1`, [planned.id]);
      const reading = new InboxStore(database.dataSource()).markRead('u-1', [planned.id]);
      // The read has marked the inbox entry and waits for the delivery; the other then wants the entry.
      await eventually(
        () => database.dataSource().query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE deliveries%'`),
        (rows: unknown[]) => rows.length === 1,
      );
      await other.query(`UPDATE inbox_entries SET read_at = read_at WHERE user_id = 'u-1'`);
      await other.query('COMMIT');
      const { read } = await reading;
      expect(read).toEqual([planned.id]);
    } finally {
      await other.end();
    }
    const [row] = (await database.dataSource().query(`SELECT status FROM deliveries WHERE message_id = $1`, [planned.id])) as { status: string }[];
    expect(row).toEqual({ status: 'read' });
    await eventually(deadlocks, (count) => count > before);
  });

  it('marks only the reader’s own copy of a message sent to several users, which has one id for all of them', async () => {
    const createdAt = new Date(Date.now() - HOUR);
    const [own, other] = [plannedDelivery(createdAt), plannedDelivery(createdAt, { userId: 'u-2', endpoint: 'inbox:u-2' })];
    const planned = plannedMessage('r-shared', createdAt, [own, other], { recipient: { userIds: ['u-1', 'u-2'] } });
    await new IngestStore(database.dataSource()).ingest([planned]);
    // u-2's gateway emitted it and waits for the acknowledgement.
    await database.dataSource().query(`UPDATE deliveries SET status = 'sent' WHERE id = $1`, [other.id]);
    const inbox = new InboxStore(database.dataSource());
    const u2 = async () =>
      (await database.dataSource().query(
        `SELECT d.status, i.read_at, i.read_seq FROM deliveries d JOIN inbox_entries i ON i.message_id = d.message_id AND i.user_id = d.user_id WHERE d.id = $1`,
        [other.id],
      )) as { status: string; read_at: Date | null; read_seq: string | null }[];

    const { read, events } = await inbox.markRead('u-1', [planned.id]);

    expect(read).toEqual([planned.id]);
    expect(events.map((e) => [e.deliveryId, e.userId, e.status])).toEqual([[own.id, 'u-1', 'read']]);
    expect(await u2()).toEqual([{ status: 'sent', read_at: null, read_seq: null }]);
    expect(await inbox.readsAfter('u-2', 0)).toEqual({ notModified: true, lastReadSeq: 0 });

    // u-2's own read still finds it unread.
    expect(await inbox.markRead('u-2', [planned.id])).toMatchObject({ read: [planned.id], events: [expect.objectContaining({ deliveryId: other.id, status: 'read' })] });
    expect(await u2()).toEqual([{ status: 'read', read_at: expect.any(Date), read_seq: '1' }]);
  });
});

/** A device that was away learns what its user read on the others: the reads after the last number it saw. */
describe('InboxStore.readsAfter', () => {
  // Two reads waiting, and the test's own queries beside them.
  const database = migratedDatabase(3);

  it('numbers one user’s reads in their order, gives a message the read that first marked it, and pages without splitting a read', async () => {
    const createdAt = new Date(Date.now() - HOUR);
    const planned = Array.from({ length: 5 }, (_, i) => plannedMessage(`r-read-${i}`, createdAt, [plannedDelivery(createdAt)]));
    await new IngestStore(database.dataSource()).ingest(planned);
    const inbox = new InboxStore(database.dataSource());
    const [a, b, c, d, e] = planned.map((p) => p.id) as [string, string, string, string, string];
    expect(await inbox.readsAfter('u-1', 0)).toEqual({ notModified: true, lastReadSeq: 0 });

    await inbox.markRead('u-1', [b, a]); // read 1
    // marks nothing new: no number, no event, nothing to tell the other devices, and a keeps read 1's
    expect(await inbox.markRead('u-1', [a])).toEqual({ read: [], events: [] });
    expect(await inbox.readsAfter('u-1', 1)).toEqual({ notModified: true, lastReadSeq: 1 });
    await inbox.markRead('u-1', [c, d]); // read 2
    await inbox.markRead('u-1', [e]); // read 3
    expect(await inbox.readsAfter('u-1', 0)).toEqual({ ids: [a, b, c, d, e], lastReadSeq: 3, hasMore: false });
    expect(await inbox.readsAfter('u-1', 1)).toEqual({ ids: [c, d, e], lastReadSeq: 3, hasMore: false });

    // Pages of 3: the first ends before read 2, whose two messages would not both fit.
    expect(await inbox.readsAfter('u-1', 0, 3)).toEqual({ ids: [a, b], lastReadSeq: 1, hasMore: true });
    expect(await inbox.readsAfter('u-1', 1, 3)).toEqual({ ids: [c, d, e], lastReadSeq: 3, hasMore: false });
    expect(await inbox.readsAfter('u-1', 3)).toEqual({ notModified: true, lastReadSeq: 3 });
    expect(await inbox.readsAfter('u-2', 0)).toEqual({ notModified: true, lastReadSeq: 0 });
  });

  it('gives two reads of one user at the same moment numbers that become visible in their order, so a device syncing between them skips neither', async () => {
    const createdAt = new Date(Date.now() - HOUR);
    const to = { userId: 'u-two-devices', endpoint: 'inbox:u-two-devices' };
    const [a, b] = ['r-first', 'r-second'].map((id) => plannedMessage(id, createdAt, [plannedDelivery(createdAt, to)], { recipient: { userId: to.userId } })) as [PlannedMessage, PlannedMessage];
    await new IngestStore(database.dataSource()).ingest([a, b]);
    // The user's counter exists, as it does after any read: the first read's insert of it would make the second wait anyway.
    await database.dataSource().query(`INSERT INTO inbox_read_sequences (user_id, last_read_seq) VALUES ($1, 0)`, [to.userId]);
    const inbox = new InboxStore(database.dataSource());
    const waitingForLocks = async () =>
      Number(
        ((await database.dataSource().query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)) as { n: string }[])[0]!.n,
      );

    // One device's read of a is held after it took its number, before it marks a (another transaction holds a's entry).
    const holder = new Client({ connectionString: database.url() });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM inbox_entries WHERE user_id = $1 AND message_id = $2 FOR UPDATE`, [to.userId, a.id]);
      const first = inbox.markRead(to.userId, [a.id]);
      await eventually(waitingForLocks, (n) => n === 1);
      // The other device reads b meanwhile: it waits for the first read's number to be visible, or is done.
      let secondDone = false;
      const second = inbox.markRead(to.userId, [b.id]).finally(() => (secondDone = true));
      await eventually(async () => secondDone || (await waitingForLocks()) === 2, (over) => over);

      // A device syncs now, then again from the number it was given once both reads are done.
      const synced = await inbox.readsAfter(to.userId, 0);
      await holder.query('COMMIT');
      expect((await first).read).toEqual([a.id]);
      expect((await second).read).toEqual([b.id]);
      const next = await inbox.readsAfter(to.userId, synced.lastReadSeq);
      const idsOf = (page: ReadsPage) => ('ids' in page ? page.ids : []);
      expect([...idsOf(synced), ...idsOf(next)]).toEqual([a.id, b.id]);

      expect(await inbox.readsAfter(to.userId, 0)).toEqual({ ids: [a.id, b.id], lastReadSeq: 2, hasMore: false });
      expect(await inbox.readsAfter(to.userId, 1)).toEqual({ ids: [b.id], lastReadSeq: 2, hasMore: false });
    } finally {
      await holder.end();
    }
  });
});
