import { createLogger } from '@notify/observability';
import { createDataSource } from './data-source';
import { newId } from './ids';
import { migratedDatabase } from './migrated-database.spec-helper';
import { maintainPartitions, PARTITIONED_TABLES } from './partitions';
import { DeliveryStatsStore } from './stores/delivery-stats.store';
import { InboxStore } from './stores/inbox.store';
import { eventually } from '@notify/testing';

/** A database of its own: retention deletes by date, which must not touch the run's shared database. */
describe('maintainPartitions', () => {
  const database = migratedDatabase();
  const db = () => database.dataSource().manager;

  async function insertMessage(createdAt: Date): Promise<string> {
    const id = newId(createdAt);
    await db().query(
      `INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`,
      [id, `r-${id}`, createdAt],
    );
    await db().query(`INSERT INTO request_keys (request_id, message_id, created_at) VALUES ($1, $2, $3)`, [`r-${id}`, id, createdAt]);
    return id;
  }
  const partitionOf = async (id: string) => (await db().query(`SELECT tableoid::regclass::text AS p FROM messages WHERE id = $1`, [id]))[0]?.p;

  it('makes weekly partitions ahead, from Monday to Monday, moving rows that waited in the default partition into theirs', async () => {
    const early = await insertMessage(new Date('2030-01-15T08:00:00Z'));
    expect(await partitionOf(early)).toBe('messages_default');

    // a Thursday; a week ahead reaches into the next week
    const report = await maintainPartitions(database.dataSource(), { now: new Date('2030-01-10T12:00:00Z'), daysAhead: 7, retentionDays: 30 });

    expect(report.created.filter((p) => p.startsWith('messages_p'))).toEqual(['messages_p20300107', 'messages_p20300114']);
    expect(report.created).toHaveLength(2 * 3);
    expect(await partitionOf(early)).toBe('messages_p20300114');
    expect(await partitionOf(await insertMessage(new Date('2030-01-07T00:00:00Z')))).toBe('messages_p20300107');
    expect(await partitionOf(await insertMessage(new Date('2030-01-13T23:59:59.999Z')))).toBe('messages_p20300107');
    expect(report.dropped).toEqual([]);
  });

  it('is idempotent', async () => {
    const again = await maintainPartitions(database.dataSource(), { now: new Date('2030-01-10T12:00:00Z'), daysAhead: 7, retentionDays: 30 });
    expect(again).toEqual({ created: [], dropped: [], notCreated: [], notDropped: [] });
  });

  it('drops a partition once all of it is past the retention period, with its rows, and the request ids of that age', async () => {
    const old = await insertMessage(new Date('2030-01-09T10:00:00Z'));
    const olderThanRetention = await insertMessage(new Date('2030-01-15T10:00:00Z'));
    const kept = await insertMessage(new Date('2030-01-20T10:00:00Z'));
    // the retention period starts on Saturday 19 January: the week of 7 January is all older, the week of 14 January is not
    const report = await maintainPartitions(database.dataSource(), { now: new Date('2030-01-24T12:00:00Z'), daysAhead: 1, retentionDays: 5 });

    expect(report.dropped.filter((p) => p.startsWith('messages_p'))).toEqual(['messages_p20300107']);
    expect(report.created.filter((p) => p.startsWith('messages_p'))).toEqual(['messages_p20300121']);
    expect(await partitionOf(old)).toBeUndefined();
    expect(await partitionOf(kept)).toBe('messages_p20300114');
    const keys = await db().query(`SELECT message_id FROM request_keys ORDER BY created_at`);
    expect(keys.map((k: { message_id: string }) => k.message_id)).not.toContain(old);
    expect(keys.map((k: { message_id: string }) => k.message_id)).toContain(kept);
    // a message kept with its week keeps its request id: a replay of it is still recognised
    expect(await partitionOf(olderThanRetention)).toBe('messages_p20300114');
    expect(keys.map((k: { message_id: string }) => k.message_id)).toContain(olderThanRetention);
  });

  it('keeps a week an hour past the retention period, for the pollers to end what is still pending in it', async () => {
    // The week of 14 January ends on Monday 21 January: five days of retention take it to 26 January, 00:00.
    const policy = (now: string) => ({ now: new Date(now), daysAhead: 1, retentionDays: 5 });
    expect((await maintainPartitions(database.dataSource(), policy('2030-01-26T00:59:59Z'))).dropped).toEqual([]);
    const report = await maintainPartitions(database.dataSource(), policy('2030-01-26T01:00:00Z'));
    expect(report.dropped.filter((p) => p.startsWith('messages_p'))).toEqual(['messages_p20300114']);
  });

  it('puts off a drop whose table stays locked, and the week’s messages and request ids with it, and drops them on the next run', async () => {
    await maintainPartitions(database.dataSource(), { now: new Date('2030-02-05T10:00:00Z'), daysAhead: 1, retentionDays: 60 });
    const old = await insertMessage(new Date('2030-02-05T10:00:00Z'));
    expect(await partitionOf(old)).toBe('messages_p20300204');
    await db().query(`INSERT INTO request_keys (request_id, message_id, created_at) SELECT 'bulk-' || i, $1, $2 FROM generate_series(1, 25) AS i`, [old, new Date('2030-02-05T10:00:00Z')]);
    const keysOfTheWeek = () => db().query(`SELECT count(*)::int AS n FROM request_keys WHERE created_at < '2030-02-11'`);
    const keysBefore = await keysOfTheWeek();
    const policy = { now: new Date('2030-03-20T12:00:00Z'), daysAhead: 1, retentionDays: 20, lockTimeoutMs: 100, purgeChunk: 10 };
    // a long transaction reading deliveries, as a slow query would
    const readerSource = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    const reader = readerSource.createQueryRunner();
    await reader.connect();
    try {
      await reader.startTransaction();
      await reader.query('LOCK TABLE deliveries IN ACCESS SHARE MODE');
      const blocked = await maintainPartitions(database.dataSource(), policy);
      // the week to come cannot be attached to deliveries either: that needs the default partition to itself
      expect(blocked.notCreated).toEqual(['deliveries_p20300318']);
      expect(blocked.notDropped).toContain('deliveries_p20300204');
      expect(blocked.created).toEqual(['messages_p20300318', 'inbox_entries_p20300318']);
      expect(blocked.dropped).toContain('inbox_entries_p20300204');
      expect(blocked.dropped.filter((p) => p.startsWith('deliveries_p'))).toEqual([]);
      // The week's messages wait for its deliveries (a delivery is never left without its message),
      // and so do their request ids.
      expect(blocked.notDropped).toContain('messages_p20300204');
      expect(blocked.dropped.filter((p) => p.startsWith('messages_p'))).toEqual([]);
      expect(await partitionOf(old)).toBe('messages_p20300204');
      expect(await keysOfTheWeek()).toEqual(keysBefore);
      await reader.rollbackTransaction();
    } finally {
      await reader.release();
      await readerSource.destroy();
    }
    const next = await maintainPartitions(database.dataSource(), policy);
    expect(next.dropped).toEqual(expect.arrayContaining(['deliveries_p20300204', 'messages_p20300204']));
    expect(await partitionOf(old)).toBeUndefined();
    // every request id of that age is gone, ten at a time
    expect(await keysOfTheWeek()).toEqual([{ n: 0 }]);
    expect(next.created).toEqual(['deliveries_p20300318']);
    expect([next.notCreated, next.notDropped]).toEqual([[], []]);
  });

  describe('with deliveries not ended', () => {
    /** A logger that keeps the messages it wrote, by level. */
    const keptLogs = () => {
      const lines: { level: number; msg: string; partition?: string }[] = [];
      return { lines, logger: createLogger('partitions-spec', 'warn', { write: (line: string) => lines.push(JSON.parse(line)) }) };
    };
    async function insertDelivery(messageId: string, createdAt: Date, status: string, nextAttemptAt: Date | null): Promise<string> {
      const id = newId(createdAt);
      await db().query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, next_attempt_at, expires_at, created_at)
         VALUES ($1, $2, 'u-pending', 'sms', '+15550100', 'en', $3, 1, $4, $5, $5)`,
        [id, messageId, status, nextAttemptAt, createdAt],
      );
      return id;
    }

    it('keeps a week past retention whose deliveries have not all ended, with its messages and request ids, and drops it once they have', async () => {
      // The week of 11 March, and a delivery of it that failed and waits for its retry: the scheduler was down.
      await maintainPartitions(database.dataSource(), { now: new Date('2030-03-12T12:00:00Z'), daysAhead: 1, retentionDays: 60 });
      const createdAt = new Date('2030-03-12T10:00:00Z');
      const message = await insertMessage(createdAt);
      const failed = await insertDelivery(message, createdAt, 'failed', new Date('2030-03-12T10:05:00Z'));
      // five days of retention from Tuesday 19 March: the week of 11 March is past it
      const policy = { now: new Date('2030-03-24T12:00:00Z'), daysAhead: 1, retentionDays: 5 };
      const warned = keptLogs();

      const putOff = await maintainPartitions(database.dataSource(), { ...policy, logger: warned.logger });
      expect(putOff.notDropped).toEqual(['deliveries_p20300311', 'messages_p20300311']);
      expect(putOff.dropped).toEqual(['inbox_entries_p20300311']);
      expect(await partitionOf(message)).toBe('messages_p20300311');
      expect(await db().query(`SELECT count(*)::int AS n FROM request_keys WHERE message_id = $1`, [message])).toEqual([{ n: 1 }]);
      expect(warned.lines.map(({ level, msg, partition }) => ({ level, msg, partition }))).toEqual([
        { level: 40, msg: 'deliveries not ended; is a scheduler running?', partition: 'deliveries_p20300311' },
      ]);

      // the scheduler is back and ends it
      await db().query(`UPDATE deliveries SET status = 'expired', next_attempt_at = NULL WHERE id = $1`, [failed]);
      const next = await maintainPartitions(database.dataSource(), policy);
      expect(next.dropped).toEqual(['deliveries_p20300311', 'messages_p20300311']);
      expect(next.notDropped).toEqual([]);
      expect(await partitionOf(message)).toBeUndefined();
      expect(await db().query(`SELECT count(*)::int AS n FROM request_keys WHERE message_id = $1`, [message])).toEqual([{ n: 0 }]);
    });

    it('drops a week whose deliveries have not all ended a week past its drop, and says so', async () => {
      // A failed delivery of the week of 18 March that no scheduler comes to end.
      const createdAt = new Date('2030-03-19T10:00:00Z');
      const message = await insertMessage(createdAt);
      await insertDelivery(message, createdAt, 'failed', createdAt);
      // The week of 18 March ends on 25 March: past five days of retention from 31 March, a week past them from 6 April.
      const run = async (now: string) => {
        const logged = keptLogs();
        const report = await maintainPartitions(database.dataSource(), { now: new Date(now), daysAhead: 1, retentionDays: 5, logger: logged.logger });
        return { report, logged: logged.lines.map(({ level, partition }) => ({ level, partition })) };
      };

      const due = await run('2030-03-31T12:00:00Z');
      expect(due.report.notDropped).toEqual(['deliveries_p20300318', 'messages_p20300318']);
      expect(due.logged).toEqual([{ level: 40, partition: 'deliveries_p20300318' }]);
      const weekLater = await run('2030-04-06T12:00:00Z');
      expect(weekLater.report.dropped).toEqual(expect.arrayContaining(['deliveries_p20300318', 'messages_p20300318']));
      expect(weekLater.report.notDropped).toEqual([]);
      expect(weekLater.logged).toEqual([{ level: 50, partition: 'deliveries_p20300318' }]);
      expect(await partitionOf(message)).toBeUndefined();
      expect(await db().query(`SELECT to_regclass('deliveries_p20300318') AS p`)).toEqual([{ p: null }]);
    });
  });

  it('lets two instances maintain at once without a conflict', async () => {
    const second = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    try {
      const policy = { now: new Date('2030-02-01T00:00:00Z'), daysAhead: 2, retentionDays: 60 };
      const [a, b] = await Promise.all([maintainPartitions(database.dataSource(), policy), maintainPartitions(second, policy)]);
      expect([...a.created, ...b.created].filter((p) => p === 'deliveries_p20300128')).toHaveLength(1);
    } finally {
      await second.destroy();
    }
  });

  it('leaves the work to an instance already maintaining instead of waiting for its run to end', async () => {
    const other = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    const runner = other.createQueryRunner();
    await runner.connect();
    try {
      await runner.query(`SELECT pg_advisory_lock(7361001)`);
      const report = await maintainPartitions(database.dataSource(), { now: new Date('2030-03-01T00:00:00Z'), daysAhead: 2, retentionDays: 60 });
      expect(report).toEqual({ created: [], dropped: [], notCreated: [], notDropped: [], leftToAnother: true });
    } finally {
      // Given back now: the session's end, which would release it too, may come after the next test starts.
      await runner.query(`SELECT pg_advisory_unlock(7361001)`);
      await runner.release();
      await other.destroy();
    }
  });

  it('moves a week’s waiting rows and attaches its partition as one step while rows of that week are being written', async () => {
    // The week of 8 April has no partition: a row for it is being written to the default partition.
    const createdAt = new Date('2030-04-10T09:00:00Z');
    const id = newId(createdAt);
    const writer = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    const writing = writer.createQueryRunner();
    await writing.startTransaction();
    await writing.query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [id, `r-${id}`, createdAt]);

    const maintained = maintainPartitions(database.dataSource(), { now: new Date('2030-04-10T12:00:00Z'), daysAhead: 1, retentionDays: 6, lockTimeoutMs: 30_000 });
    // it waits for the writer's lock on the default partition; then the writer commits
    const waiting = `SELECT count(*) AS n FROM pg_locks
      WHERE NOT granted AND relation = 'messages_default'::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
    await eventually(async () => Number((await db().query(waiting))[0].n), (n) => n > 0);
    await writing.commitTransaction();
    await writing.release();
    await writer.destroy();

    const report = await maintained;
    expect(report.created).toContain('messages_p20300408');
    expect(await partitionOf(id)).toBe('messages_p20300408');
  });
  it('makes a statement planned while a week’s waiting rows move find them in their new partition', async () => {
    // The week of 15 April has no partition and one message waits in the default partition.
    const createdAt = new Date('2030-04-17T09:00:00Z');
    const id = await insertMessage(createdAt);
    const connect = () => createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    const [holder, writer] = await Promise.all([connect(), connect()]);
    try {
      // A transaction on the table (a long ingest) holds the lock the attach needs.
      const holding = holder.createQueryRunner();
      await holding.startTransaction();
      await holding.query(`LOCK TABLE messages IN SHARE UPDATE EXCLUSIVE MODE`);
      const maintained = maintainPartitions(database.dataSource(), { now: new Date('2030-04-17T12:00:00Z'), daysAhead: 1, retentionDays: 6, lockTimeoutMs: 30_000 });
      const waitingLocks = `SELECT count(*) AS n FROM pg_locks
        WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
      await eventually(async () => Number((await db().query(waitingLocks))[0].n), (n) => n >= 1);
      // A write by key, planned while the maintenance waits.
      const updated = writer.query(`UPDATE messages SET locale = 'de' WHERE id = $1 AND created_at BETWEEN $2 AND $2 RETURNING id`, [id, createdAt]);
      await eventually(async () => Number((await db().query(waitingLocks))[0].n), (n) => n >= 2);
      await holding.commitTransaction();
      await holding.release();

      expect((await maintained).created).toContain('messages_p20300415');
      expect(await updated).toEqual([[{ id }], 1]);
      expect(await partitionOf(id)).toBe('messages_p20300415');
    } finally {
      await Promise.all([holder.destroy(), writer.destroy()]);
    }
  });
  it('forgets the registrations of tokens no device holds any more once they are past the retention period', async () => {
    await db().query(`INSERT INTO devices (user_id, device_id, provider, token, registered_at) VALUES ('held', 'phone', 'fcm', 'token-held', '2030-06-01T00:00:00Z')`);
    await db().query(
      `INSERT INTO push_tokens (provider, token_md5, registered_at) VALUES
         ('fcm', md5('token-held'), '2030-06-01T00:00:00Z'), ('fcm', md5('token-gone'), '2030-06-01T00:00:00Z'), ('fcm', md5('token-recent'), '2030-07-09T00:00:00Z')`,
    );
    await maintainPartitions(database.dataSource(), { now: new Date('2030-07-10T12:00:00Z'), daysAhead: 1, retentionDays: 30 });
    const kept = await db().query(`SELECT token_md5 FROM push_tokens WHERE token_md5 IN (md5('token-held'), md5('token-gone'), md5('token-recent')) ORDER BY registered_at`);
    expect(kept.map((row: { token_md5: string }) => row.token_md5)).toEqual([
      (await db().query(`SELECT md5('token-held') AS h`))[0].h,
      (await db().query(`SELECT md5('token-recent') AS h`))[0].h,
    ]);
  });

  it('forgets the devices deactivated before the retention period, and their tokens’ registrations', async () => {
    const device = (user: string, token: string, active: boolean, changedAt: string) =>
      db().query(
        `INSERT INTO devices (user_id, device_id, provider, token, active, deactivated_reason, registered_at, updated_at)
         VALUES ($1, 'phone', 'fcm', $2, $3, CASE WHEN NOT $3 THEN 'unregistered' END, '2030-05-01T00:00:00Z', $4)`,
        [user, token, active, changedAt],
      );
    // five deactivated on 1 June, as a vendor called their tokens gone: more than a chunk
    for (let i = 1; i <= 5; i++) await device(`gone-${i}`, `token-gone-${i}`, false, '2030-06-01T00:00:00Z');
    await device('live', 'token-live', true, '2030-06-01T00:00:00Z');
    await device('lately-gone', 'token-lately-gone', false, '2030-07-01T00:00:00Z');
    await db().query(
      `INSERT INTO push_tokens (provider, token_md5, registered_at)
       SELECT 'fcm', md5(token), registered_at FROM devices WHERE user_id LIKE 'gone-%' OR user_id IN ('live', 'lately-gone')`,
    );

    // 30 days of retention from 10 June
    await maintainPartitions(database.dataSource(), { now: new Date('2030-07-10T12:00:00Z'), daysAhead: 1, retentionDays: 30, purgeChunk: 2 });

    const devices = await db().query(`SELECT user_id FROM devices WHERE user_id LIKE 'gone-%' OR user_id IN ('live', 'lately-gone') ORDER BY 1`);
    expect(devices.map((row: { user_id: string }) => row.user_id)).toEqual(['lately-gone', 'live']);
    const tokens = await db().query(
      `SELECT d.token FROM push_tokens t JOIN (VALUES ('token-gone-1'), ('token-gone-5'), ('token-live'), ('token-lately-gone')) AS d(token) ON t.token_md5 = md5(d.token) ORDER BY 1`,
    );
    expect(tokens.map((row: { token: string }) => row.token)).toEqual(['token-lately-gone', 'token-live']);
  });
});

describe('maintainPartitions with the host clock far from the database’s', () => {
  const database = migratedDatabase();
  const db = () => database.dataSource().manager;

  it('drops by the earlier of the two clocks, so a clock that ran ahead drops no week still in use', async () => {
    const createdAt = new Date('2030-03-05T10:00:00Z');
    const id = newId(createdAt);
    await maintainPartitions(database.dataSource(), { now: new Date('2030-03-06T12:00:00Z'), daysAhead: 7, retentionDays: 30 });
    await db().query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [id, `r-${id}`, createdAt]);
    await db().query(`INSERT INTO request_keys (request_id, message_id, created_at) VALUES ($1, $2, $3)`, [`r-${id}`, id, createdAt]);
    const kept = async () => [
      (await db().query(`SELECT count(*)::int AS n FROM messages WHERE id = $1`, [id]))[0].n,
      (await db().query(`SELECT count(*)::int AS n FROM request_keys WHERE message_id = $1`, [id]))[0].n,
    ];

    // 45 days on, 30 days kept: the week of 4 March is past retention by one clock, not by the other
    const ahead = new Date('2030-04-20T12:00:00Z');
    const hostAhead = await maintainPartitions(database.dataSource(), { now: ahead, databaseNow: new Date('2030-03-06T12:00:00Z'), daysAhead: 7, retentionDays: 30 });
    const databaseAhead = await maintainPartitions(database.dataSource(), { now: new Date('2030-03-06T12:00:00Z'), databaseNow: ahead, daysAhead: 7, retentionDays: 30 });

    expect([hostAhead.dropped, databaseAhead.dropped]).toEqual([[], []]);
    expect(await kept()).toEqual([1, 1]);
    // partitions are still made ahead of the host's clock, where its writers put their rows
    expect(hostAhead.created.filter((p) => p.startsWith('messages_p'))).toEqual(['messages_p20300415', 'messages_p20300422']);

    const bothAhead = await maintainPartitions(database.dataSource(), { now: ahead, databaseNow: ahead, daysAhead: 7, retentionDays: 30 });
    expect(bothAhead.dropped.filter((p) => p.startsWith('messages_p'))).toEqual(['messages_p20300304', 'messages_p20300311']);
    expect(await kept()).toEqual([0, 0]);
  });
});

describe('maintainPartitions after daily partitions', () => {
  const database = migratedDatabase();
  const db = () => database.dataSource().manager;
  const partitions = async () =>
    (
      await db().query(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'messages'::regclass AND c.relname <> 'messages_default' ORDER BY 1`,
      )
    ).map((row: { name: string }) => row.name);
  const partitionOf = async (id: string) => (await db().query(`SELECT tableoid::regclass::text AS p FROM messages WHERE id = $1`, [id]))[0]?.p;

  it('keeps the daily partitions an earlier version made, fills the rest of their week, and drops each when it expires', async () => {
    for (const table of PARTITIONED_TABLES) {
      // An earlier version made a partition per day: Friday 1 March 2030 to Tuesday 5 March.
      for (let day = 1; day <= 5; day++) {
        await db().query(`CREATE TABLE ${table}_p2030030${day} PARTITION OF ${table} FOR VALUES FROM ('2030-03-0${day}T00:00:00Z') TO ('2030-03-0${day + 1}T00:00:00Z')`);
      }
      // and someone made an archive of everything before 10 February, and one of 2031 on
      await db().query(`CREATE TABLE ${table}_archive PARTITION OF ${table} FOR VALUES FROM (MINVALUE) TO ('2030-02-10T00:00:00Z')`);
      await db().query(`CREATE TABLE ${table}_future PARTITION OF ${table} FOR VALUES FROM ('2031-01-01T00:00:00Z') TO (MAXVALUE)`);
    }
    const waiting = newId(new Date('2030-03-08T09:00:00Z'));
    await db().query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [waiting, `r-${waiting}`, new Date('2030-03-08T09:00:00Z')]);
    expect(await partitionOf(waiting)).toBe('messages_default');

    // A session in a time zone 13¾ hours from UTC reads the same bounds (the apps' sessions are in UTC;
    // one connection, so the setting holds for the maintenance's statements).
    const elsewhere = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    try {
      await elsewhere.query(`SET TimeZone = 'Pacific/Chatham'`);
      expect(await elsewhere.query('SHOW TimeZone')).toEqual([{ TimeZone: 'Pacific/Chatham' }]);
      const upgraded = await maintainPartitions(elsewhere, { now: new Date('2030-03-05T12:00:00Z'), daysAhead: 7, retentionDays: 30 });
      // the week of 4 March from Wednesday, then the next week whole
      expect(upgraded.created.filter((p) => p.startsWith('messages_'))).toEqual(['messages_p20300306', 'messages_p20300311']);
      expect(upgraded.dropped).toEqual([]);
    } finally {
      await elsewhere.destroy();
    }
    expect(await partitionOf(waiting)).toBe('messages_p20300306');

    // retention from Monday 4 March: the three days before it go, and the archive, all older
    const later = await maintainPartitions(database.dataSource(), { now: new Date('2030-03-10T12:00:00Z'), daysAhead: 7, retentionDays: 6 });
    expect(later.dropped.filter((p) => p.startsWith('messages_')).sort()).toEqual(['messages_archive', 'messages_p20300301', 'messages_p20300302', 'messages_p20300303']);
    expect(await partitions()).toEqual(['messages_future', 'messages_p20300304', 'messages_p20300305', 'messages_p20300306', 'messages_p20300311']);
  });

});

/** 30 days of retention from Monday 10 June 2030: the weeks of 27 May and 3 June go, that of 10 June stays. */
const PAST_JUNE_10 = { now: new Date('2030-07-10T12:00:00Z'), daysAhead: 1, retentionDays: 30 };
/** The weeks of 27 May, 3 and 10 June. */
const FROM_MAY_27 = { now: new Date('2030-05-29T12:00:00Z'), daysAhead: 14, retentionDays: 60 };

/** A day's counters are spread over slots while it is written; once its week is dropped, no writer spreads them any more. */
describe('maintainPartitions and the daily counters of the weeks it drops', () => {
  const database = migratedDatabase();
  const db = () => database.dataSource().manager;

  beforeAll(() => maintainPartitions(database.dataSource(), FROM_MAY_27));

  /** Every counter column of daily_delivery_stats, as the catalog has them. */
  const counterColumns = async (): Promise<string[]> =>
    (
      await db().query(
        `SELECT column_name AS name FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = 'daily_delivery_stats' AND column_name NOT IN ('type', 'day', 'slot') ORDER BY ordinal_position`,
      )
    ).map((row: { name: string }) => row.name);
  const sums = async (columns: string[]) =>
    db().query(`SELECT type, day::text AS day, ${columns.map((c) => `sum(${c})::int AS ${c}`).join(', ')} FROM daily_delivery_stats GROUP BY 1, 2 ORDER BY 1, 2`);
  const slots = async () =>
    (await db().query(`SELECT type, day::text AS day, slot FROM daily_delivery_stats ORDER BY 1, 2, 3`)).map((r: { type: string; day: string; slot: number }) => `${r.type} ${r.day} ${r.slot}`);

  it('adds up each day’s slots into one row per type once its week is dropped, every counter’s sum unchanged', async () => {
    const columns = await counterColumns();
    const counts = (type: string, day: string, slot: number, base: number) =>
      db().query(
        `INSERT INTO daily_delivery_stats (type, day, slot, ${columns.join(', ')}) VALUES ($1, $2, $3, ${columns.map((_, i) => `$4::int + ${i}`).join(', ')})`,
        [type, day, slot, base],
      );
    // Writers on several connections spread a day over slots; a day may have no slot 0 yet.
    for (const [slot, base] of [[0, 1], [17, 10], [63, 100]] as const) await counts('t-folded', '2030-05-28', slot, base);
    for (const [slot, base] of [[5, 2], [9, -1]] as const) await counts('t-folded', '2030-06-09', slot, base);
    await counts('t-other', '2030-05-28', 17, 7);
    // A day of the week kept: its deliveries are still written.
    for (const [slot, base] of [[3, 4], [4, 5]] as const) await counts('t-folded', '2030-06-10', slot, base);
    const stats = new DeliveryStatsStore(database.dataSource());
    const totalsBefore = await Promise.all([stats.totals({}), stats.totals({ type: 't-folded' }), stats.totals({ since: new Date('2030-05-28T00:00:00Z'), until: new Date('2030-05-29T00:00:00Z') })]);
    const sumsBefore = await sums(columns);

    const report = await maintainPartitions(database.dataSource(), PAST_JUNE_10);

    expect(report.dropped).toEqual(expect.arrayContaining(['deliveries_p20300527', 'deliveries_p20300603']));
    expect(await slots()).toEqual(['t-folded 2030-05-28 0', 't-folded 2030-06-09 0', 't-folded 2030-06-10 3', 't-folded 2030-06-10 4', 't-other 2030-05-28 0']);
    expect(await sums(columns)).toEqual(sumsBefore);
    expect(await Promise.all([stats.totals({}), stats.totals({ type: 't-folded' }), stats.totals({ since: new Date('2030-05-28T00:00:00Z'), until: new Date('2030-05-29T00:00:00Z') })])).toEqual(totalsBefore);

    // A count that lands in a folded day later (a row of that age written to the default partition) is folded in by the next run.
    await counts('t-folded', '2030-05-28', 40, 1_000);
    const withLate = await sums(columns);
    await maintainPartitions(database.dataSource(), PAST_JUNE_10);
    expect(await slots()).toEqual(['t-folded 2030-05-28 0', 't-folded 2030-06-09 0', 't-folded 2030-06-10 3', 't-folded 2030-06-10 4', 't-other 2030-05-28 0']);
    expect(await sums(columns)).toEqual(withLate);
  });
});

/** An erased user's inbox numbers outlive the inbox until retention has taken it all. */
describe('maintainPartitions and the inbox numbers of removed users', () => {
  const database = migratedDatabase();
  const db = () => database.dataSource().manager;

  beforeAll(() => maintainPartitions(database.dataSource(), FROM_MAY_27));

  /** A user's inbox as ingest and reads leave it: a message at each time, numbered from 1, and `reads` reads. */
  async function inbox(userId: string, times: string[], reads = 0): Promise<void> {
    for (const [i, at] of times.entries()) {
      await db().query(`INSERT INTO inbox_entries (user_id, seq, message_id, locale, created_at) VALUES ($1, $2, $3, 'en', $4)`, [userId, i + 1, newId(new Date(at)), at]);
    }
    await db().query(`INSERT INTO inbox_sequences (user_id, last_seq) VALUES ($1, $2)`, [userId, times.length]);
    if (reads > 0) await db().query(`INSERT INTO inbox_read_sequences (user_id, last_read_seq) VALUES ($1, $2)`, [userId, reads]);
  }
  const removed = (userId: string, at: string) => db().query(`INSERT INTO removed_users (user_id, removed_at) VALUES ($1, $2)`, [userId, at]);
  const numbers = async (userId: string) =>
    (
      await db().query(
        `SELECT (SELECT last_seq::int FROM inbox_sequences WHERE user_id = $1) AS seq, (SELECT last_read_seq::int FROM inbox_read_sequences WHERE user_id = $1) AS read,
                EXISTS (SELECT 1 FROM removed_users WHERE user_id = $1) AS removed`,
        [userId],
      )
    )[0];

  it('forgets them, and the removal, for a user removed before the oldest week kept and left with no inbox entry', async () => {
    // Removed in the week of 3 June, every message from the weeks dropped: more users than a chunk.
    for (const userId of ['gone-1', 'gone-2', 'gone-3']) {
      await inbox(userId, ['2030-05-28T10:00:00Z', '2030-06-04T10:00:00Z'], 1);
      await removed(userId, '2030-06-05T00:00:00Z');
    }
    await removed('never-addressed', '2030-06-05T00:00:00Z');
    // Addressed again after the removal, in the week kept: numbers must not go back under its client.
    await inbox('addressed-again', ['2030-05-28T10:00:00Z', '2030-06-12T10:00:00Z']);
    await removed('addressed-again', '2030-06-05T00:00:00Z');
    // Removed in the week kept, and never removed.
    await inbox('lately-removed', ['2030-05-28T10:00:00Z'], 1);
    await removed('lately-removed', '2030-06-10T00:00:00Z');
    await inbox('not-removed', ['2030-05-28T10:00:00Z'], 1);

    await maintainPartitions(database.dataSource(), { ...PAST_JUNE_10, purgeChunk: 2 });

    for (const userId of ['gone-1', 'gone-2', 'gone-3', 'never-addressed']) expect(await numbers(userId)).toEqual({ seq: null, read: null, removed: false });
    expect(await numbers('addressed-again')).toEqual({ seq: 2, read: null, removed: true });
    expect(await numbers('lately-removed')).toEqual({ seq: 1, read: 1, removed: true });
    expect(await numbers('not-removed')).toEqual({ seq: 1, read: 1, removed: false });
    // A client of the user that syncs finds nothing, as for a user never addressed.
    const inboxStore = new InboxStore(database.dataSource());
    expect(await inboxStore.after('gone-1', 0, 10)).toEqual({ notModified: true, lastSeq: 0 });
    expect(await inboxStore.after('gone-1', 2, 10)).toEqual({ notModified: true, lastSeq: 0 });
    expect(await inboxStore.readsAfter('gone-1', 1)).toEqual({ notModified: true, lastReadSeq: 0 });
  });

  it('keeps them for a user whose next message is being numbered at that moment, so the message keeps its number', async () => {
    // Its inbox's week dropped already: its entry waits in the default partition for the run to delete it.
    await inbox('numbered-now', ['2030-05-28T10:00:00Z']);
    await removed('numbered-now', '2030-06-05T00:00:00Z');
    const writer = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    const ingest = writer.createQueryRunner();
    let ended = false;
    try {
      // An ingest has taken the user's next number and not yet written the entry.
      await ingest.startTransaction();
      await ingest.query(`INSERT INTO inbox_sequences (user_id, last_seq) VALUES ('numbered-now', 1) ON CONFLICT (user_id) DO UPDATE SET last_seq = inbox_sequences.last_seq + 1`);
      const run = maintainPartitions(database.dataSource(), PAST_JUNE_10).finally(() => (ended = true));
      // A wait for a row's lock is one for its holder's transaction id, which pg_locks names no database of.
      const waiting = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
      await eventually(async () => ended || (await db().query(waiting))[0].n > 0, (done) => done);
      await ingest.query(`INSERT INTO inbox_entries (user_id, seq, message_id, locale, created_at) VALUES ('numbered-now', 2, $1, 'en', $2)`, [newId(new Date('2030-07-09T10:00:00Z')), '2030-07-09T10:00:00Z']);
      await ingest.commitTransaction();
      await run;
    } finally {
      await ingest.release();
      await writer.destroy();
    }
    expect(await numbers('numbered-now')).toEqual({ seq: 2, read: null, removed: true });
    // The next message is numbered after it.
    const [next] = await db().query(`UPDATE inbox_sequences SET last_seq = last_seq + 1 WHERE user_id = 'numbered-now' RETURNING last_seq::int AS seq`);
    expect(next).toEqual([{ seq: 3 }]);
  });
});
