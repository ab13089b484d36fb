import { createDataSource, maintainPartitions } from '@notify/persistence';

const DAY_MS = 86_400_000;

/**
 * The partitions of an installation that has run for `days` days (`BENCH_HISTORY_DAYS`,
 * by default the retention period's 30), from `days` days ago to a week ahead, so the writes are
 * measured against as many partitions as in steady state and not only the week a new database has.
 * Returns the number of partitions made per table.
 */
export async function makeHistoryPartitions(databaseUrl: string, days = Number(process.env.BENCH_HISTORY_DAYS ?? 30)): Promise<number> {
  const dataSource = await createDataSource({ databaseUrl, databasePoolSize: 1 }).initialize();
  try {
    const report = await maintainPartitions(dataSource, { now: new Date(Date.now() - days * DAY_MS), daysAhead: days + 7, retentionDays: days + 30 });
    return report.created.filter((name) => name.startsWith('deliveries_')).length;
  } finally {
    await dataSource.destroy();
  }
}
