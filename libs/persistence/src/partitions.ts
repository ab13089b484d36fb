import type { DataSource, EntityManager } from 'typeorm';
import { queryRows } from './stores/rows';

/** The tables partitioned by day on `created_at`. */
export const PARTITIONED_TABLES = ['messages', 'deliveries', 'inbox_entries'] as const;

const DAY_MS = 86_400_000;
/** Any fixed number: it names the lock that keeps two instances from maintaining partitions at once. */
const MAINTENANCE_LOCK = 7_361_001;

export interface PartitionPolicy {
  now: Date;
  /** Days of partitions made ahead of today. */
  daysAhead: number;
  /** Days of history kept; older partitions are dropped. */
  retentionDays: number;
}

export interface MaintenanceReport {
  created: string[];
  dropped: string[];
}

/**
 * Makes the daily partitions from yesterday to `daysAhead` days ahead, moving any rows of their
 * range out of the default partition first, and drops partitions older than the retention period
 * together with the request ids of that age.
 */
export async function maintainPartitions(dataSource: DataSource, policy: PartitionPolicy): Promise<MaintenanceReport> {
  return dataSource.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MAINTENANCE_LOCK]);
    const today = startOfDay(policy.now);
    const cutoff = new Date(today.getTime() - policy.retentionDays * DAY_MS);
    const report: MaintenanceReport = { created: [], dropped: [] };
    for (const table of PARTITIONED_TABLES) {
      const existing = new Set(await partitionsOf(tx, table));
      for (let offset = -1; offset <= policy.daysAhead; offset++) {
        const from = new Date(today.getTime() + offset * DAY_MS);
        const name = partitionName(table, from);
        if (from < cutoff || existing.has(name)) continue;
        await createPartition(tx, table, name, from, new Date(from.getTime() + DAY_MS));
        report.created.push(name);
      }
      for (const name of existing) {
        const day = dayOfPartition(table, name);
        if (day && day.getTime() + DAY_MS <= cutoff.getTime()) {
          await tx.query(`DROP TABLE ${name}`);
          report.dropped.push(name);
        }
      }
      await tx.query(`DELETE FROM ${table}_default WHERE created_at < $1`, [cutoff]);
    }
    await tx.query('DELETE FROM request_keys WHERE created_at < $1', [cutoff]);
    return report;
  });
}

async function createPartition(tx: EntityManager, table: string, name: string, from: Date, to: Date): Promise<void> {
  await tx.query(`CREATE TABLE ${name} (LIKE ${table} INCLUDING DEFAULTS)`);
  await tx.query(
    `WITH moved AS (DELETE FROM ${table}_default WHERE created_at >= $1 AND created_at < $2 RETURNING *)
     INSERT INTO ${name} SELECT * FROM moved`,
    [from, to],
  );
  await tx.query(`ALTER TABLE ${table} ATTACH PARTITION ${name} FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`);
}

async function partitionsOf(tx: EntityManager, table: string): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    tx,
    `SELECT c.relname AS name
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.relname = $1 AND c.relname <> $2`,
    [table, `${table}_default`],
  );
  return rows.map((row) => row.name);
}

export function partitionName(table: string, day: Date): string {
  return `${table}_p${day.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function dayOfPartition(table: string, name: string): Date | undefined {
  const match = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`).exec(name);
  return match ? new Date(`${match[1]}-${match[2]}-${match[3]}T00:00:00Z`) : undefined;
}

function startOfDay(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}
