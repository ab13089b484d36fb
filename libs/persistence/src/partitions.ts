import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { AppLogger } from '@notify/observability';
import { DDL_LOCK_TIMEOUT_MS, lockNotAvailable } from './lock-waits';
import { COUNTERS } from './migrations/1763600000011-delivery-stats';
import { retryingDeadlocks } from './refused-writes';
import { queryRows } from './stores/rows';

/** The tables partitioned by week on `created_at`. */
export const PARTITIONED_TABLES = ['messages', 'deliveries', 'inbox_entries'] as const;
/** The order their old partitions are dropped in: a week's messages last. */
const DROP_ORDER = ['deliveries', 'inbox_entries', 'messages'] as const;

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-05, the first Monday of the epoch: weeks start on Mondays at 00:00 UTC. */
const FIRST_MONDAY_MS = 4 * DAY_MS;
/**
 * How long past the retention period a message is kept at least. A message expires by then at the
 * latest (the message center caps its expiry at the retention period), and this hour leaves the
 * pollers time to record that of every delivery still pending — dropped with its partition, a
 * delivery ends with no outcome, no event, and counted as pending for good.
 */
export const SETTLE_MS = 3_600_000;
/**
 * How long past its drop a week of deliveries is kept while any of them has not ended. Such a row
 * should not be there (every one is past its expiry): the pollers were down across the drop and end
 * them when they are back. Past this week, one that no poller ends (no scheduler runs for good, or
 * one is stuck) would keep the week for ever: it is dropped anyway.
 */
const NOT_ENDED_KEPT_MS = WEEK_MS;
/**
 * The deliveries a poller is still to end, each found through a partial index: held or failed
 * (`ix_deliveries_due`), queued or sent under a lease (`ix_deliveries_leased`: a retry claimed, a send
 * awaiting its outcome). Not a first send whose job no sender took (queued, no lease): no poller comes
 * back to it, keeping its week would end nothing, and no index finds it, so looking for one would read
 * the whole week.
 */
const NOT_ENDED = [`status IN ('held', 'failed')`, `status IN ('queued', 'sent') AND next_attempt_at IS NOT NULL`];
/** Any fixed number: it names the lock that keeps two instances from maintaining partitions at once. */
const MAINTENANCE_LOCK = 7_361_001;

export interface PartitionPolicy {
  /** The message center's clock (the database's, `DatabaseClock`): partitions are made ahead of it, where the writers put their rows. */
  now: Date;
  /**
   * The database's clock at the run, when the caller read it. Drops go by the earlier of the two
   * clocks: a host whose clock ran ahead (a VM restored with a wrong time, a bad clock at boot) would
   * otherwise drop the weeks still in use, with their request ids.
   */
  databaseNow?: Date;
  /** Days ahead of today that must already have a partition. */
  daysAhead: number;
  /** Days of history kept; a partition is dropped once all of it is older than that. */
  retentionDays: number;
  /** The longest a partition's creation or drop waits for its table's locks before it is put off to the next run (3 s). */
  lockTimeoutMs?: number;
  /** Request ids deleted per statement (10,000). */
  purgeChunk?: number;
  /** Only the partitions to make: no drop, no purge (what a starting message center needs before it consumes). */
  onlyCreate?: boolean;
  /** Asked between steps and between chunks of a purge: once true, the run ends there (a shutdown); the next run goes on. */
  stopped?: () => boolean;
  /** Told of a week of deliveries kept past its drop because some have not ended, and of one dropped anyway. */
  logger?: AppLogger;
}

export interface MaintenanceReport {
  created: string[];
  dropped: string[];
  /** Partitions due to be made whose table stayed locked longer than `lockTimeoutMs` (their rows go to the default partition meanwhile): the next run tries again. */
  notCreated: string[];
  /**
   * Partitions past retention whose table stayed locked longer than `lockTimeoutMs`, or a week of
   * deliveries some of which have not ended (and that week's messages): the next run tries again.
   */
  notDropped: string[];
  /** Another instance was maintaining (its run can last long: a week's request ids purged): this one did nothing. */
  leftToAnother?: boolean;
}


/** A range of creation times, `from` included, `to` excluded. */
interface Range {
  from: number;
  to: number;
}

/**
 * Makes the weekly partitions from yesterday's week to the week `daysAhead` days ahead, moving any
 * rows of their range out of the default partition first, and drops partitions whose whole range is
 * older than the retention period, together with the request ids of that age; then folds the daily
 * counters of the days dropped into one row per type and day, and forgets the inbox numbers of the
 * users removed before then.
 *
 * Partitions are found by their bounds in the catalog, not by their names, so the daily partitions
 * of an installation made before weeks (architecture D5) are kept until they expire and a week
 * they cover only partly gets a partition for the rest of it.
 *
 * Every step is a short transaction of its own, one instance at a time (a session advisory lock; an
 * instance that finds another maintaining leaves it to that one).
 * Dropping a partition locks its whole table against every reader and writer until its transaction
 * ends, so each drop commits at once and waits at most `lockTimeoutMs` for the lock, since ingest,
 * claims and queries would queue behind a waiting drop; one that cannot have it is put off to the next
 * run. The week of request ids goes afterwards, in bounded chunks, with no table lock held.
 */
export async function maintainPartitions(dataSource: DataSource, policy: PartitionPolicy): Promise<MaintenanceReport> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    // Not waiting for it: a message center starting up maintains before it consumes, and would
    // consume nothing for as long as another instance's run lasts.
    const [lock] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [MAINTENANCE_LOCK])) as { locked: boolean }[];
    if (!lock?.locked) return { created: [], dropped: [], notCreated: [], notDropped: [], leftToAnother: true };
    try {
      return await maintain(runner, policy);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK]);
    }
  } finally {
    await runner.release();
  }
}

async function maintain(runner: QueryRunner, policy: PartitionPolicy): Promise<MaintenanceReport> {
  const today = Math.floor(policy.now.getTime() / DAY_MS) * DAY_MS;
  const dropsBy = Math.min(policy.now.getTime(), (policy.databaseNow ?? policy.now).getTime());
  const cutoff = Math.floor((dropsBy - SETTLE_MS) / DAY_MS) * DAY_MS - policy.retentionDays * DAY_MS;
  const lockTimeoutMs = policy.lockTimeoutMs ?? DDL_LOCK_TIMEOUT_MS;
  const report: MaintenanceReport = { created: [], dropped: [], notCreated: [], notDropped: [] };
  const outcome = (done: boolean, names: string[]) => (done ? report.created : report.notCreated).push(...names);
  for (const table of PARTITIONED_TABLES) {
    const existing = await partitionsOf(runner.manager, table);
    const gaps: Range[] = [];
    for (let week = partitionStart(new Date(today - DAY_MS)).getTime(); week <= today + policy.daysAhead * DAY_MS; week += WEEK_MS) {
      gaps.push(...uncovered({ from: week, to: week + WEEK_MS }, existing).filter((gap) => gap.to > cutoff));
    }
    if (gaps.length > 0) {
      const names = gaps.map((gap) => partitionName(table, new Date(gap.from)));
      outcome(await underLockTimeout(runner, lockTimeoutMs, async (tx) => {
        for (const [i, gap] of gaps.entries()) await createPartition(tx, table, names[i]!, gap);
      }), names);
    }
  }
  if (policy.onlyCreate || policy.stopped?.()) return report;
  // A message outlives its deliveries and inbox entries, never the other way round: with the week's
  // messages gone and its deliveries kept (their drop put off), the resend poller found those
  // deliveries first, claimed none of them (a claim joins the message) and resent nothing else.
  let putOffFrom = Infinity;
  for (const table of DROP_ORDER) {
    if (policy.stopped?.()) return report;
    for (const partition of (await partitionsOf(runner.manager, table)).filter((p) => p.to <= cutoff)) {
      const dropped =
        (table !== 'messages' || partition.to <= putOffFrom) &&
        (table !== 'deliveries' || (await deliveriesEnded(runner, partition, cutoff, policy.logger))) &&
        (await underLockTimeout(runner, lockTimeoutMs, (tx) => tx.query(`DROP TABLE ${partition.name}`)));
      (dropped ? report.dropped : report.notDropped).push(partition.name);
      if (!dropped) putOffFrom = Math.min(putOffFrom, partition.from);
    }
    await runner.query(`DELETE FROM ${table}_default WHERE created_at < $1`, [new Date(cutoff)]);
  }
  // The start of the oldest week kept: what came before it is gone with its partitions. A request id
  // is its message's idempotency key: kept as long as the message's week is.
  // (A hand-made partition from MINVALUE put off keeps them all.)
  const keptFrom = new Date(Math.max(0, Math.min(partitionStart(new Date(cutoff)).getTime(), putOffFrom)));
  const stopped = policy.stopped ?? (() => false);
  const chunk = policy.purgeChunk ?? 10_000;
  await foldDailyStats(runner, keptFrom, stopped);
  await purgeRequestKeys(runner, keptFrom, chunk, stopped);
  await purgeRemovedUsers(runner, keptFrom, chunk, stopped);
  await purgeInactiveDevices(runner, new Date(cutoff), chunk, stopped);
  await purgePushTokens(runner, new Date(cutoff), chunk, stopped);
  return report;
}

/** The columns of `daily_delivery_stats` that count, each summed over the slots. */
const DAILY_COUNTERS = ['requested', ...COUNTERS] as const;

/**
 * Adds up each (type, day)'s counter slots (`delivery_stats_slot()`, up to 64) into slot 0 for the
 * days before `before`, a day per statement: a slot spreads the writers of a day while its messages
 * and deliveries are written, and a day whose week is dropped is written no more, so its 64 rows per
 * type would stay for good. Each statement moves what it deletes into slot 0, so a day's sums, all
 * GetStats reads, stay the same. A trigger writes such a day only for a row put in the default
 * partition with a creation time that old (no writer makes one, and the run deletes them); its count
 * goes to its own slot beside slot 0, the sums are still right, and the next run folds it in. A
 * counter a trigger writes while it is folded is folded with it (its row locked first) or written to
 * a row of its own after the commit. Finding the days reads the counters of every day before `before`,
 * one row per type and day once folded.
 */
async function foldDailyStats(runner: QueryRunner, before: Date, stopped: () => boolean): Promise<void> {
  // Each day as the session writes it, handed back as it is: no time zone or date style in between.
  const days = await queryRows<{ day: string }>(
    runner.manager,
    `SELECT DISTINCT day::text AS day FROM daily_delivery_stats WHERE day < $1::date AND slot <> 0`,
    [before.toISOString().slice(0, 10)],
  );
  for (const { day } of days) {
    if (stopped()) return;
    // Its rows are locked in no set order: a writer of that day's counters could deadlock with it.
    await retryingDeadlocks(() =>
      runner.query(
        `WITH gone AS (DELETE FROM daily_delivery_stats WHERE day = $1::date AND slot <> 0 RETURNING *)
         INSERT INTO daily_delivery_stats AS s (type, day, slot, ${DAILY_COUNTERS.join(', ')})
         SELECT type, day, 0, ${DAILY_COUNTERS.map((c) => `sum(${c})`).join(', ')} FROM gone GROUP BY type, day ORDER BY type
         ON CONFLICT (type, day, slot) DO UPDATE SET ${DAILY_COUNTERS.map((c) => `${c} = s.${c} + EXCLUDED.${c}`).join(', ')}`,
        [day],
      ),
    );
  }
}

/**
 * Forgets the inbox numbers (`inbox_sequences`, `inbox_read_sequences`) of the users removed before
 * `before` (`removed_users`) who have no inbox entry left, `chunk` users per transaction, then their
 * removal. A user addressed again since keeps them while any entry does: their numbers never go back
 * while a client may hold one. Gone, the user's inbox starts again at 1, as a new user's.
 *
 * An ingest numbers a user's messages under the lock of their `inbox_sequences` row, inserting the
 * entries before it commits; a read of theirs, under the lock of their `inbox_read_sequences` row. So
 * the rows are locked first, and the entries looked for by a later statement, whose snapshot sees
 * every entry of a transaction that held the lock before: checked in the DELETE alone, an entry
 * committed while the DELETE waited for the row went unseen, and the row went with it (the next
 * message numbered 1 again). A row held by a writer, or a removal being written (a user removed again
 * or coming back), is skipped, not waited for, and left to the next run: the purge waits for nothing,
 * and nothing it holds keeps an ingest waiting for long.
 */
async function purgeRemovedUsers(runner: QueryRunner, before: Date, chunk: number, stopped: () => boolean): Promise<void> {
  for (let after: string | null = null; !stopped(); ) {
    await runner.startTransaction();
    try {
      const users: string[] = (
        await queryRows<{ user_id: string }>(
          runner.manager,
          `SELECT user_id FROM removed_users WHERE ($1::varchar IS NULL OR user_id > $1) AND removed_at < $2
            ORDER BY user_id LIMIT $3 FOR UPDATE SKIP LOCKED`,
          [after, before, chunk],
        )
      ).map((row) => row.user_id);
      for (const table of ['inbox_sequences', 'inbox_read_sequences']) {
        const locked = await queryRows<{ user_id: string }>(runner.manager, `SELECT user_id FROM ${table} WHERE user_id = ANY($1::varchar[]) FOR UPDATE SKIP LOCKED`, [users]);
        await runner.query(
          `DELETE FROM ${table} t WHERE t.user_id = ANY($1::varchar[]) AND NOT EXISTS (SELECT 1 FROM inbox_entries e WHERE e.user_id = t.user_id)`,
          [locked.map((row) => row.user_id)],
        );
      }
      // The removals of those left with no numbers (a row skipped above is still there).
      await runner.query(
        `DELETE FROM removed_users r WHERE r.user_id = ANY($1::varchar[])
            AND NOT EXISTS (SELECT 1 FROM inbox_sequences s WHERE s.user_id = r.user_id)
            AND NOT EXISTS (SELECT 1 FROM inbox_read_sequences s WHERE s.user_id = r.user_id)`,
        [users],
      );
      await runner.commitTransaction();
      if (users.length < chunk) return;
      after = users.at(-1)!;
    } catch (error) {
      await runner.rollbackTransaction();
      throw error;
    }
  }
}

/**
 * Whether a week of deliveries past retention may be dropped: none of them is still to end, or the
 * week is `NOT_ENDED_KEPT_MS` past its drop already. Dropped, a delivery still to end never gets its
 * `expired` and its event, and the daily counters keep it as it stood (`failed`, say) for good: a
 * drop fires no trigger.
 */
async function deliveriesEnded(runner: QueryRunner, partition: Range & { name: string }, cutoff: number, logger: AppLogger | undefined): Promise<boolean> {
  const [row] = await queryRows<{ pending: boolean }>(
    runner.manager,
    `SELECT ${NOT_ENDED.map((condition) => `EXISTS (SELECT 1 FROM ${partition.name} WHERE ${condition})`).join(' OR ')} AS pending`,
    [],
  );
  if (!row?.pending) return true;
  if (partition.to > cutoff - NOT_ENDED_KEPT_MS) {
    logger?.warn({ partition: partition.name }, 'deliveries not ended; is a scheduler running?');
    return false;
  }
  logger?.error({ partition: partition.name }, 'deliveries not ended a week past their drop, dropped anyway: they end with no outcome, and the daily counters keep them as they stood');
  return true;
}

/**
 * Deletes the devices deactivated (their token registered by another device since, or called gone by
 * its vendor) and not changed since before `before` (the retention period), `ix_devices_inactive`
 * finding them: nothing sends to them any more, and a push token is personal data. The md5s of their
 * tokens go next (`purgePushTokens`). Only a registration made before then and applied after it (older
 * than Kafka keeps a `notify.recipients` record) finds the device gone, and makes it again as it would
 * after a `device-removed`: active unless its token has a newer registration still known.
 */
function purgeInactiveDevices(runner: QueryRunner, before: Date, chunk: number, stopped: () => boolean): Promise<void> {
  return deleteInChunks(runner, 'devices', `NOT t.active AND t.updated_at < $1`, [before], chunk, stopped);
}

/**
 * Forgets the newest registration of tokens no device holds any more, made before `before` (the
 * retention period): only a registration arriving that late could need it, and none does (Kafka keeps
 * `notify.recipients` for days, not the retention period). A token's md5 is no credential, but it is
 * not kept for ever either.
 */
function purgePushTokens(runner: QueryRunner, before: Date, chunk: number, stopped: () => boolean): Promise<void> {
  return deleteInChunks(
    runner,
    'push_tokens',
    `t.registered_at < $1 AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.provider = t.provider AND md5(d.token) = t.token_md5)`,
    [before],
    chunk,
    stopped,
  );
}

/**
 * Runs `work` in a transaction of its own that waits at most `lockTimeoutMs` for each lock; false
 * when a lock was not had in time (nothing of `work` is then kept).
 */
async function underLockTimeout(runner: QueryRunner, lockTimeoutMs: number, work: (tx: EntityManager) => Promise<unknown>): Promise<boolean> {
  await runner.startTransaction();
  try {
    await runner.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.max(1, Math.floor(lockTimeoutMs))}ms`]);
    await work(runner.manager);
    await runner.commitTransaction();
    return true;
  } catch (error) {
    await runner.rollbackTransaction();
    if (lockNotAvailable(error)) return false;
    throw error;
  }
}

/**
 * Deletes the request ids made before `before`, `chunk` at a time, and the unfinished requests
 * (`unfinished_requests`, a few rows: broadcasts stopped for good) claimed before then.
 */
async function purgeRequestKeys(runner: QueryRunner, before: Date, chunk: number, stopped: () => boolean): Promise<void> {
  await deleteInChunks(runner, 'request_keys', `t.created_at < $1`, [before], chunk, stopped);
  await runner.query(`DELETE FROM unfinished_requests WHERE claimed_at < $1`, [before]);
}

/**
 * Deletes the rows `t` of `table` that `where` holds for, `chunk` at a time, each chunk its own
 * statement, until a chunk comes back short or the run is `stopped`. The DELETE asks `where` again:
 * a row changed by another transaction while the chunk was found (a device registered again) is
 * checked as it is then, not deleted for what it was (a recheck by ctid alone passes on PostgreSQL
 * releases before 2025's fix of TID-scan rechecks).
 */
async function deleteInChunks(runner: QueryRunner, table: string, where: string, params: unknown[], chunk: number, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    const [{ n }] = await queryRows<{ n: number }>(
      runner.manager,
      `WITH gone AS (
         DELETE FROM ${table} t WHERE t.ctid = ANY(ARRAY(SELECT t.ctid FROM ${table} t WHERE ${where} LIMIT $${params.length + 1})) AND ${where}
         RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [...params, chunk],
    );
    if (n < chunk) return;
  }
}

/** The start of the week (Monday, 00:00 UTC) that holds `at`: the lower bound of its partition. */
export function partitionStart(at: Date): Date {
  return new Date(Math.floor((at.getTime() - FIRST_MONDAY_MS) / WEEK_MS) * WEEK_MS + FIRST_MONDAY_MS);
}

/** A partition is named after the first day it holds. */
export function partitionName(table: string, from: Date): string {
  return `${table}_p${from.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The parts of `range` no existing partition holds, in order. */
function uncovered(range: Range, existing: readonly Range[]): Range[] {
  const gaps: Range[] = [];
  let from = range.from;
  for (const taken of [...existing].sort((a, b) => a.from - b.from)) {
    if (taken.to <= from || taken.from >= range.to) continue;
    if (taken.from > from) gaps.push({ from, to: taken.from });
    from = Math.max(from, taken.to);
  }
  if (from < range.to) gaps.push({ from, to: range.to });
  return gaps;
}

async function createPartition(tx: EntityManager, table: string, name: string, range: Range): Promise<void> {
  const [from, to] = [new Date(range.from), new Date(range.to)];
  // Rows of the week already waiting in the default partition (their partition was put off while the
  // week was written): a statement planned while they move would look for them in the default
  // partition alone, wait for this transaction, then find nothing there (a claim that claims nothing,
  // an acknowledgement lost, an insert refused). The table's own lock makes it plan after the attach.
  // Only then: the table's lock waits for every transaction on it and holds back every statement.
  const waiting = await queryRows<{ any: boolean }>(tx, `SELECT EXISTS (SELECT 1 FROM ${table}_default WHERE created_at >= $1 AND created_at < $2) AS any`, [from, to]);
  if (waiting[0]?.any) await tx.query(`LOCK TABLE ONLY ${table} IN ACCESS EXCLUSIVE MODE`);
  // Nothing may reach the default partition between the move and the attach: a row of the week
  // written in between (or by a transaction still open at the move) failed the attach, and with it
  // every run while the week's writes went on. Writers wait for this transaction, which is short.
  await tx.query(`LOCK TABLE ${table}_default IN ACCESS EXCLUSIVE MODE`);
  await tx.query(`CREATE TABLE ${name} (LIKE ${table} INCLUDING DEFAULTS)`);
  await tx.query(
    `WITH moved AS (DELETE FROM ${table}_default WHERE created_at >= $1 AND created_at < $2 RETURNING *)
     INSERT INTO ${name} SELECT * FROM moved`,
    [from, to],
  );
  await tx.query(`ALTER TABLE ${table} ATTACH PARTITION ${name} FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`);
}

/** `pg_get_expr` of a range partition's bounds on one column. */
const BOUNDS = `^FOR VALUES FROM \\((MINVALUE|'[^']+')\\) TO \\((MAXVALUE|'[^']+')\\)$`;

/**
 * The table's partitions other than the default one, with their bounds as the catalog has them
 * (MINVALUE and MAXVALUE, which only a hand-made partition has, as infinities). Found by the table's
 * oid and named with their schema, so a table of the same name in another schema is never touched.
 */
async function partitionsOf(tx: EntityManager, table: string): Promise<(Range & { name: string })[]> {
  const rows = await queryRows<{ name: string; bound: string; from: Date | number | null; to: Date | number | null; unread: boolean }>(
    tx,
    `SELECT c.oid::regclass::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, b.bound IS NULL AS unread,
            CASE WHEN b.bound[1] <> 'MINVALUE' THEN btrim(b.bound[1], '''')::timestamptz END AS "from",
            CASE WHEN b.bound[2] <> 'MAXVALUE' THEN btrim(b.bound[2], '''')::timestamptz END AS "to"
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       LEFT JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), $3) AS b(bound) ON true
      WHERE i.inhparent = $1::regclass AND c.oid <> $2::regclass`,
    [table, `${table}_default`, BOUNDS],
  );
  return rows.map((row) => {
    if (row.unread) throw new Error(`partition ${row.name} of ${table} has bounds partition maintenance cannot read: ${row.bound}`);
    return { name: row.name, from: boundOf(row.from, -Infinity), to: boundOf(row.to, Infinity) };
  });
}

/** A bound in milliseconds: pg gives a Date, or ±Infinity for 'infinity'; MINVALUE and MAXVALUE come as null. */
function boundOf(value: Date | number | null, ifNull: number): number {
  if (value === null) return ifNull;
  return value instanceof Date ? value.getTime() : value;
}
