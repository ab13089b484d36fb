import { DataSource, type Logger } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@notify/testing';
import { createDataSource, runMigrations } from '../data-source';
import { newId } from '../ids';
import { maintainPartitions, partitionName, partitionStart } from '../partitions';
import { ChannelDeliveryStore } from './channel-delivery.store';
import { loadDeliveryJobs } from './delivery-jobs';
import { DeliveryOutcomeStore } from './delivery-outcome.store';
import { FallbackStore } from './fallback.store';
import { InboxStore } from './inbox.store';
import { ResendStore } from './resend.store';
import { ReturningReceiversStore } from './returning-receivers.store';

const T0 = new Date('2030-05-10T10:00:00Z');
const DAY_MS = 86_400_000;

/** Every statement the stores send, with its parameters, as TypeORM hands it to pg. */
class Statements implements Logger {
  readonly seen: { sql: string; params: unknown[] }[] = [];
  logQuery(sql: string, params?: unknown[]): void {
    this.seen.push({ sql, params: params ?? [] });
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/**
 * The writes that name deliveries by key run on a database with a retention period of weekly
 * partitions. Each statement's plan must reach only the partitions of its keys' weeks: the keys are
 * rows of a JSON parameter, so without the keys' time range in the statement the planner kept every
 * partition of `deliveries` and `messages`, and each small batch paid for planning, locking and
 * probing all of them.
 */
describe('writes by key', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  const statements = new Statements();

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    const options = createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).options;
    dataSource = await new DataSource({ ...options, logging: ['query'], logger: statements }).initialize();
    // the weeks of a retention period before T0 and a few after it, as in steady state
    await maintainPartitions(dataSource, { now: new Date(T0.getTime() - 30 * DAY_MS), daysAhead: 45, retentionDays: 60 });
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  /** One message with a websocket delivery and a held push tier above it, created at `createdAt`. */
  async function seed(createdAt: Date, status: string): Promise<{ message: string; websocket: string; push: string }> {
    const messageId = newId(createdAt);
    const [websocket, push] = [newId(createdAt), newId(createdAt)];
    await dataSource.query(
      `INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1::uuid, 'r-' || $1::text, 't', '{}', '{"en":{"title":"t","body":"b"}}', $2)`,
      [messageId, createdAt],
    );
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, created_at)
       VALUES ($1, $3, 'u1', 'websocket', 'inbox:u1', 'en', 0, $5, $4), ($2, $3, 'u1', 'push', 'fcm:d1', 'en', 1, 'held', $4)`,
      [websocket, push, messageId, createdAt, status],
    );
    return { message: messageId, websocket, push };
  }

  /** The plan nodes of a statement seen that read a partition of `deliveries` or `messages`. */
  async function partitionScans(statement: { sql: string; params: unknown[] }): Promise<Record<string, string>[]> {
    const [row] = await dataSource.query<{ 'QUERY PLAN': unknown }[]>(`EXPLAIN (FORMAT JSON) ${statement.sql}`, statement.params);
    const scans: Record<string, string>[] = [];
    JSON.stringify(row!['QUERY PLAN'], (_key, value: unknown) => {
      const node = value as Record<string, string> | null;
      if (node && typeof node === 'object' && /^(deliveries|messages|inbox_entries)_/.test(node['Relation Name'] ?? '')) scans.push(node);
      return value;
    });
    return scans;
  }

  async function partitionsPlanned(statement: { sql: string; params: unknown[] }): Promise<string[]> {
    return [...new Set((await partitionScans(statement)).map((node) => node['Relation Name']!))].sort();
  }

  it('plans only the partitions of the weeks their keys were created on', async () => {
    const outcomes = new DeliveryOutcomeStore(dataSource);
    const channels = new ChannelDeliveryStore(dataSource);
    const fallback = new FallbackStore(dataSource);
    // a Sunday and a Monday: two weeks
    const day = new Date(T0.getTime() + 2 * DAY_MS);
    const nextDay = new Date(day.getTime() + DAY_MS);
    const [claimed, expired, sent, escalated] = [await seed(day, 'queued'), await seed(day, 'queued'), await seed(day, 'sent'), await seed(day, 'sent')];
    const late = await seed(nextDay, 'sent');
    await dataSource.query(`INSERT INTO inbox_entries (user_id, seq, message_id, locale, created_at) VALUES ('u1', 1, $1, 'en', $2)`, [claimed.message, day]);
    statements.seen.length = 0;

    await outcomes.claimAttempts([claimed.websocket], 60_000);
    await outcomes.claimSends([claimed.push], 60_000);
    await outcomes.record([{ deliveryId: claimed.websocket, status: 'delivered', error: null, attempt: 1 }]);
    await channels.expire([expired.websocket]);
    await channels.record([{ deliveryId: sent.websocket, status: 'sent', error: null, waitMs: null }]);
    await fallback.cancelAbove([claimed.websocket]);
    // keys of two weeks in one statement
    await outcomes.record([
      { deliveryId: escalated.websocket, status: 'failed', error: 'offline', attempt: 0 },
      { deliveryId: late.websocket, status: 'failed', error: 'offline', attempt: 0 },
    ]);
    await fallback.escalate([escalated.websocket, late.websocket]);
    await new ResendStore(dataSource).scheduleFailed(T0, 10);
    // their browser came back: due now
    expect(await new ReturningReceiversStore(dataSource).makeDue(['u1'])).toBe(2);
    const resent = await new ResendStore(dataSource).claimDue(new Date(T0.getTime() + DAY_MS), 60_000, 10);
    await new InboxStore(dataSource).markRead('u1', [claimed.message]);
    await loadDeliveryJobs(dataSource, [{ id: escalated.push, createdAt: day }]);
    const issued = [...statements.seen];

    // The writes did their work: the push tier of the delivered message was cancelled, the ones
    // above the offline deliveries released, the failures scheduled, the message read.
    const status = async (id: string) => (await dataSource.query<{ status: string }[]>(`SELECT status FROM deliveries WHERE id = $1`, [id]))[0]?.status;
    expect([await status(claimed.push), await status(escalated.push), await status(late.push), await status(claimed.websocket)]).toEqual([
      'cancelled',
      'queued',
      'queued',
      'read',
    ]);
    const [{ scheduled }] = await dataSource.query<{ scheduled: number }[]>(
      `SELECT count(*)::int AS scheduled FROM deliveries WHERE id = ANY($1::uuid[]) AND next_attempt_at IS NOT NULL`,
      [[escalated.websocket, late.websocket]],
    );
    expect(scheduled).toBe(2);
    // A day later the failures are due, and so are the released push tiers whose lease has run out.
    const due = [escalated.websocket, late.websocket, escalated.push, late.push];
    expect(resent.batches.flatMap((b) => b.jobs.map((j) => j.deliveryId)).sort()).toEqual(due.sort());

    // Searches (SKIP LOCKED) look through every partition by design; every write by key must not.
    const keyed = issued.filter((s) => /\b(deliveries|inbox_entries)\b/.test(s.sql) && !/^\s*INSERT/.test(s.sql) && !s.sql.includes('SKIP LOCKED'));
    expect(keyed.filter((s) => /^\s*UPDATE inbox_entries/.test(s.sql))).toHaveLength(1);
    expect(keyed.length).toBeGreaterThanOrEqual(14);
    const partitionsOf = (at: Date) => ['deliveries', 'messages', 'inbox_entries'].map((table) => partitionName(table, partitionStart(at)));
    const allowed = [...partitionsOf(day), ...partitionsOf(nextDay)];
    for (const statement of keyed) {
      const planned = await partitionsPlanned(statement);
      expect({ sql: statement.sql, planned: planned.filter((p) => !allowed.includes(p)) }).toEqual({ sql: statement.sql, planned: [] });
      const table = /^\s*UPDATE inbox_entries/.test(statement.sql) ? 'inbox_entries_' : 'deliveries_';
      expect(planned.some((p) => p.startsWith(table))).toBe(true);
    }
    const twoWeeks = await partitionsPlanned(keyed.find((s) => s.params.some((p) => typeof p === 'string' && p.includes(late.websocket)) && s.sql.includes('o.status'))!);
    expect(twoWeeks.filter((p) => p.startsWith('deliveries_'))).toEqual([partitionsOf(day)[0], partitionsOf(nextDay)[0]]);
  });

  it('finds a user’s other tiers of a broadcast through the user’s index, not through every delivery of the message', async () => {
    // One message to 2,000 users, each with a browser tier and a push tier: a lookup of one user's
    // tiers through the message's index read 4,000 rows for each of them.
    const day = new Date(T0.getTime() + 5 * DAY_MS);
    const messageId = newId(day);
    await dataSource.query(`INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1::uuid, 'r-' || $1::text, 't', '{}', '{}', $2)`, [messageId, day]);
    const users = Array.from({ length: 2_000 }, (_, i) => `b${i}`);
    const [browsers, pushes] = [users.map(() => newId(day)), users.map(() => newId(day))];
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, created_at)
       SELECT w, $3::uuid, u, 'websocket', 'inbox:' || u, 'en', 0, 'delivered', $4::timestamptz FROM unnest($1::uuid[], $2::varchar[]) AS x(w, u)
       UNION ALL
       SELECT p, $3::uuid, u, 'push', 'fcm:' || u, 'en', 1, 'queued', $4::timestamptz FROM unnest($5::uuid[], $2::varchar[]) AS x(p, u)`,
      [browsers, users, messageId, day, pushes],
    );
    await dataSource.query(`ANALYZE ${partitionName('deliveries', partitionStart(day))}`);
    statements.seen.length = 0;

    await new DeliveryOutcomeStore(dataSource).claimSends(pushes.slice(0, 500), 60_000);
    await new FallbackStore(dataSource).cancelAbove(browsers.slice(500, 1_000));

    const [claim, cancel] = statements.seen.filter((s) => /^\s*(WITH|UPDATE)\b/.test(s.sql) && s.sql.includes('deliveries'));
    for (const statement of [claim!, cancel!]) {
      // Each key through the primary key, each user's tiers through the user's index by user: nothing else.
      const reads = (await partitionScans(statement))
        .filter((node) => node['Node Type'] !== undefined)
        .map((node) => `${node['Node Type']} ${node['Index Name'] ?? ''} ${node['Index Cond'] ?? ''}`.trim());
      const other = reads.filter((read) => !/^Index Scan deliveries_p\d+_(pkey \(\(?id = |user_id_created_at_idx \(\(?\(?user_id\)?(::text)? = )/.test(read));
      expect({ sql: statement.sql, other }).toEqual({ sql: statement.sql, other: [] });
    }
    const status = async (ids: string[]) => (await dataSource.query<{ status: string }[]>(`SELECT DISTINCT status FROM deliveries WHERE id = ANY($1::uuid[])`, [ids])).map((r) => r.status);
    expect([await status(pushes.slice(0, 500)), await status(pushes.slice(500, 1_000))]).toEqual([['cancelled'], ['cancelled']]);
  });

  it('looks each key up in the primary key of a partition that has no statistics yet', async () => {
    // A new week's partition before autovacuum has analyzed it: the planner's defaults made it look
    // like one row, and a claim scanned it once per key (3.5 s for 500 keys over 20,000 rows).
    // a week of its own: the first test's rows are in the weeks before
    const day = new Date(T0.getTime() + 10 * DAY_MS);
    const partition = partitionName('deliveries', partitionStart(day));
    // autovacuum must not analyze it while the test runs
    await dataSource.query(`ALTER TABLE ${partition} SET (autovacuum_enabled = false)`);
    const messageIds = Array.from({ length: 5_000 }, () => newId(day));
    await dataSource.query(
      `INSERT INTO messages (id, request_id, type, recipient, contents, created_at) SELECT m, 'r-' || m, 't', '{}', '{}', $2 FROM unnest($1::uuid[]) AS m`,
      [messageIds, day],
    );
    const ids = messageIds.map(() => newId(day));
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at)
       SELECT d, m, 'u1', 'websocket', 'inbox:u1', 'en', 'queued', $3 FROM unnest($1::uuid[], $2::uuid[]) AS x(d, m)`,
      [ids, messageIds, day],
    );
    const [stats] = await dataSource.query<{ analyzed: boolean }[]>(`SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = $1`, [partition]);
    expect(stats?.analyzed).toBe(false);
    statements.seen.length = 0;

    const claimed = await new DeliveryOutcomeStore(dataSource).claimAttempts(ids.slice(0, 500), 60_000);

    expect(claimed.size).toBe(500);
    const [claim] = statements.seen.filter((s) => s.sql.includes('UPDATE deliveries'));
    const scans = (await partitionScans(claim!)).filter((node) => node['Node Type'] !== undefined);
    // The keys through the primary key; a fallback tier's look for another tier that reached the
    // user (in each of the claim's three CASEs) through the user's index, not every delivery of the message.
    const userIndex: [string, string, string] = [partition, 'Index Scan', `${partition}_user_id_created_at_idx`];
    expect(scans.map((node) => [node['Relation Name'], node['Node Type'], node['Index Name']])).toEqual([
      [partition, 'Index Scan', `${partition}_pkey`],
      userIndex,
      userIndex,
      userIndex,
    ]);
  });
});
