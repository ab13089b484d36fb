import type { DataSource } from 'typeorm';
import { createDataSource, newId, runMigrations } from '@notify/persistence';
import { createTestDatabase, keptErrors, type TestDatabase } from '@notify/testing';
import { PartitionMaintenance } from './partition-maintenance';

const DAY_MS = 86_400_000;

/** A database of its own: retention drops partitions, which must not touch the run's shared database. */
describe('PartitionMaintenance', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  async function runOnce(clock: () => Date, logger = keptErrors('partition-maintenance-spec').logger): Promise<void> {
    const maintenance = new PartitionMaintenance(dataSource, { retentionDays: 30, partitionDaysAhead: 7 }, clock, logger);
    await maintenance.onModuleInit();
    maintenance.onApplicationShutdown();
  }

  it('keeps this week’s messages when the host’s clock runs 45 days ahead of the database’s, and says so', async () => {
    await runOnce(() => new Date());
    const [{ now }] = await dataSource.query<{ now: Date }[]>(`SELECT now() AS now`);
    const id = newId(now);
    await dataSource.query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [id, `r-${id}`, now]);

    const { logger, lines } = keptErrors('partition-maintenance-spec');
    await runOnce(() => new Date(Date.now() + 45 * DAY_MS), logger);

    const [{ n }] = await dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM messages WHERE id = $1`, [id]);
    expect(n).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toMatch(/clock/);
    expect(lines[0]!.skewMs).toBeGreaterThan(44 * DAY_MS);
  });
});
