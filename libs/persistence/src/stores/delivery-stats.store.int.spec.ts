import type { QueryConfig } from 'pg';
import { poolOf } from '../data-source';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { DeliveryStatsStore, type StatsFilter } from './delivery-stats.store';

/**
 * GetStats of every type from a day on, or up to one, on two years of counters of 40 types (the
 * table is never pruned): the statement the store sends, planned generically as the query API's
 * session has it, reads the week asked for through the index on day. A range of one parameter is
 * estimated at a third of the table, and its plan read all of it (a parallel sequential scan).
 */
describe('DeliveryStatsStore: days open at one end', () => {
  // One connection: the statement the store prepared is in the session the test looks in.
  const database = migratedDatabase(1);
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);

  beforeAll(async () => {
    // Out of day order, as upserts and vacuum leave a table whose counters are updated all day.
    await query(
      `INSERT INTO daily_delivery_stats (type, day, slot, requested, delivered)
       SELECT 'account.notification.' || t, date '2031-01-01' + d, s, 1, 1
         FROM generate_series(1, 40) t, generate_series(0, 729) d, generate_series(0, 15) s ORDER BY s, t, d`,
    );
    // Days as far as a message's creation time reaches either way: an open end counts them.
    await query(`INSERT INTO daily_delivery_stats (type, day, slot, requested) VALUES ('account.notification.1', '-infinity', 0, 1000), ('account.notification.1', 'infinity', 0, 100000)`);
    await query(`ANALYZE daily_delivery_stats`);
    await query(`SET plan_cache_mode = force_generic_plan`);
  });

  it.each<[string, StatsFilter, string]>([
    ['since', { since: new Date('2032-12-24T00:00:00Z') }, `day >= '2032-12-24'`],
    ['until', { until: new Date('2031-01-08T00:00:00Z') }, `day < '2031-01-08'`],
  ])('with only %s, sums every day to the open end, reading the week through the index on day', async (_end, filter, days) => {
    const sent = jest.spyOn(poolOf(database.dataSource()), 'query');
    try {
      const totals = await new DeliveryStatsStore(database.dataSource()).totals(filter);
      const [counted] = await query<{ requested: string; delivered: string }>(`SELECT sum(requested) AS requested, sum(delivered) AS delivered FROM daily_delivery_stats WHERE ${days}`);
      expect(totals).toMatchObject({ requested: Number(counted!.requested), delivered: Number(counted!.delivered) });
      expect(totals.delivered).toBe(7 * 40 * 16);

      const [{ name, values }] = sent.mock.calls.at(-1) as unknown as [QueryConfig];
      const scans = scansOf(await query(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${values!.map((value) => `'${String(value)}'`).join(', ')})`));
      expect(scans).toContainEqual(expect.stringMatching(/Index Scan ix_daily_delivery_stats_day$/));
      expect(scans.filter((scan) => scan.startsWith('Seq Scan'))).toEqual([]);
    } finally {
      sent.mockRestore();
    }
  });
});

/** The plan's scans of the counters and of their indexes, each its node type and index. */
function scansOf([{ 'QUERY PLAN': plan }]: { 'QUERY PLAN': unknown }[]): string[] {
  const scans: string[] = [];
  JSON.stringify(plan, (_key, value: unknown) => {
    const node = value as Record<string, string> | null;
    if (node && typeof node === 'object' && (node['Relation Name'] === 'daily_delivery_stats' || node['Index Name']?.includes('daily_delivery_stats'))) scans.push(`${node['Node Type']} ${node['Index Name'] ?? ''}`.trim());
    return value;
  });
  return scans;
}
