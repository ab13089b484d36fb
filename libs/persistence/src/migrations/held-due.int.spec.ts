import { Client } from 'pg';
import type { TestDatabase } from '@notify/testing';
import { createDataSource, MIGRATIONS, runMigrations } from '../data-source';
import { databaseBefore } from '../migrated-database.spec-helper';
import { maintainPartitions } from '../partitions';
import { HeldDue1763600000026 } from './1763600000026-held-due';

/**
 * The first index built partition by partition (architecture D2): on an installation that has its
 * weekly partitions, each one's index is built and attached, so the parent's index is valid and a
 * week's partition made later gets one with its creation.
 */
describe('migration: held deliveries by their time', () => {
  let database: TestDatabase;
  let client: Client;
  /** The partitions of deliveries, and those of them the index has a part of. */
  const parts = async () => {
    const of = async (parent: string) =>
      (await client.query<{ table: string }>(
        `SELECT COALESCE(x.indrelid, c.oid)::regclass::text AS table
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid LEFT JOIN pg_index x ON x.indexrelid = c.oid
          WHERE i.inhparent = to_regclass($1) ORDER BY 1`,
        [parent],
      )).rows.map((row) => row.table);
    return { partitions: await of('deliveries'), indexed: await of('ix_deliveries_held_due') };
  };

  beforeAll(async () => {
    database = await databaseBefore(HeldDue1763600000026);
    client = new Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await database.drop();
  });

  it('builds the index on every partition, attaches it, and a partition made later has it too', async () => {
    const dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: 1 }).initialize();
    try {
      // Only the weeks' partitions: its purges are of tables of later migrations.
      await maintainPartitions(dataSource, { now: new Date(), retentionDays: 30, daysAhead: 21, onlyCreate: true });
    } finally {
      await dataSource.destroy();
    }
    const before = await parts();
    expect(before.partitions.length).toBeGreaterThan(3);
    expect(before.indexed).toEqual([]);

    // This migration first, and those after it.
    expect(await runMigrations({ databaseUrl: database.url })).toEqual(MIGRATIONS.slice(MIGRATIONS.indexOf(HeldDue1763600000026)).map((m) => m.name));

    const after = await parts();
    expect(after.indexed).toEqual(before.partitions);
    const [parent] = (await client.query<{ valid: boolean }>(`SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'ix_deliveries_held_due'::regclass`)).rows;
    expect(parent).toEqual({ valid: true });
    await client.query(`CREATE TABLE deliveries_later PARTITION OF deliveries FOR VALUES FROM ('2040-01-01') TO ('2040-01-08')`);
    expect((await parts()).indexed).toContain('deliveries_later');
  });
});
