import type { DataSource, EntityManager } from 'typeorm';
import { queryRows } from './stores/rows';

/** The tables partitioned by week on `created_at`. */
export const PARTITIONED_TABLES = ['messages', 'deliveries', 'inbox_entries'] as const;

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-05, the first Monday of the epoch: weeks start on Mondays at 00:00 UTC. */
const FIRST_MONDAY_MS = 4 * DAY_MS;
/** Any fixed number: it names the lock that keeps two instances from maintaining partitions at once. */
const MAINTENANCE_LOCK = 7_361_001;

export interface PartitionPolicy {
  now: Date;
  /** Days ahead of today that must already have a partition. */
  daysAhead: number;
  /** Days of history kept; a partition is dropped once all of it is older than that. */
  retentionDays: number;
}

export interface MaintenanceReport {
  created: string[];
  dropped: string[];
}

/** A range of creation times, `from` included, `to` excluded. */
interface Range {
  from: number;
  to: number;
}

/**
 * Makes the weekly partitions from yesterday's week to the week `daysAhead` days ahead, moving any
 * rows of their range out of the default partition first, and drops partitions whose whole range is
 * older than the retention period, together with the request ids of that age.
 *
 * Partitions are found by their bounds in the catalog, not by their names, so the daily partitions
 * of an installation made before weeks (architecture D5) are kept until they expire and a week
 * they cover only partly gets a partition for the rest of it.
 */
export async function maintainPartitions(dataSource: DataSource, policy: PartitionPolicy): Promise<MaintenanceReport> {
  return dataSource.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MAINTENANCE_LOCK]);
    const today = Math.floor(policy.now.getTime() / DAY_MS) * DAY_MS;
    const cutoff = today - policy.retentionDays * DAY_MS;
    const report: MaintenanceReport = { created: [], dropped: [] };
    for (const table of PARTITIONED_TABLES) {
      const existing = await partitionsOf(tx, table);
      for (let week = partitionStart(new Date(today - DAY_MS)).getTime(); week <= today + policy.daysAhead * DAY_MS; week += WEEK_MS) {
        for (const gap of uncovered({ from: week, to: week + WEEK_MS }, existing)) {
          if (gap.to <= cutoff) continue;
          const name = partitionName(table, new Date(gap.from));
          await createPartition(tx, table, name, gap);
          report.created.push(name);
        }
      }
      for (const partition of existing) {
        if (partition.to > cutoff) continue;
        await tx.query(`DROP TABLE ${partition.name}`);
        report.dropped.push(partition.name);
      }
      await tx.query(`DELETE FROM ${table}_default WHERE created_at < $1`, [new Date(cutoff)]);
    }
    // A request id is its message's idempotency key: kept as long as the message's week is.
    await tx.query('DELETE FROM request_keys WHERE created_at < $1', [partitionStart(new Date(cutoff))]);
    return report;
  });
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
