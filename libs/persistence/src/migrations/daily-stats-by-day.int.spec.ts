import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@notify/testing';
import { createDataSource, runMigrations } from '../data-source';
import { DeliveryStatsStore } from '../stores/delivery-stats.store';

/**
 * GetStats of every type over a week, on a year of counters of many types: the statement the store
 * prepares (with a generic plan, as the query API's session asks) reads the week through an index,
 * not the whole table.
 */
describe('migration: daily counters by day', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    const url = new URL(database.url);
    url.searchParams.set('options', '-c plan_cache_mode=force_generic_plan');
    // One connection: the store's prepared statement is then this session's to look at.
    dataSource = await createDataSource({ databaseUrl: url.toString(), databasePoolSize: 1 }).initialize();
    await dataSource.query(
      `INSERT INTO daily_delivery_stats (type, day, slot, requested, delivered)
       SELECT 'type.' || t, date '2031-01-01' + d, s, 1, 1 FROM generate_series(1, 40) t, generate_series(0, 364) d, generate_series(0, 7) s`,
    );
    await dataSource.query(`ANALYZE daily_delivery_stats`);
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  it('sums a week of every type through the index on day', async () => {
    const filter = { since: new Date('2031-06-01T00:00:00Z'), until: new Date('2031-06-08T00:00:00Z') };
    const totals = await new DeliveryStatsStore(dataSource).totals(filter);
    expect(totals).toMatchObject({ requested: 7 * 40 * 8, delivered: 7 * 40 * 8 });

    const [prepared] = await dataSource.query<{ name: string }[]>(`SELECT name FROM pg_prepared_statements WHERE statement LIKE '%FROM daily_delivery_stats%'`);
    const [{ 'QUERY PLAN': plan }] = await dataSource.query<{ 'QUERY PLAN': unknown }[]>(`EXPLAIN (FORMAT JSON) EXECUTE ${prepared!.name}('2031-06-01', '2031-06-07')`);
    const scans: string[] = [];
    JSON.stringify(plan, (_key, value: unknown) => {
      const node = value as Record<string, string> | null;
      if (node && typeof node === 'object' && node['Relation Name'] === 'daily_delivery_stats') scans.push(`${node['Node Type']} ${node['Index Name'] ?? ''}`.trim());
      return value;
    });
    expect(scans).toEqual([expect.stringMatching(/Index.* ix_daily_delivery_stats_day$/)]);
  });
});
