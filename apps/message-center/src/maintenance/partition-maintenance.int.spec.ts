import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { Metrics } from '@notify/observability';
import { createDataSource, newId, partitionStart, runMigrations } from '@notify/persistence';
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

  /** Maintenance kept for 30 days, made a week ahead, by `clock`. */
  const maintenanceBy = (clock: () => Date, logger = keptErrors('partition-maintenance-spec').logger, metrics = new Metrics('partition-maintenance-spec'), onFatal?: (error: Error) => void) =>
    new PartitionMaintenance(dataSource, { retentionDays: 30, partitionDaysAhead: 7 }, clock, logger, metrics, onFatal ?? (() => undefined));

  async function runOnce(clock: () => Date, logger = keptErrors('partition-maintenance-spec').logger, metrics?: Metrics): Promise<void> {
    const maintenance = maintenanceBy(clock, logger, metrics);
    await maintenance.onModuleInit();
    await maintenance.idle();
    await maintenance.beforeApplicationShutdown();
    maintenance.onApplicationShutdown();
  }

  it('is ready to consume once the partitions are made, while the request ids past retention are still being purged', async () => {
    const old = new Date(Date.now() - 60 * DAY_MS);
    await dataSource.query(
      `INSERT INTO request_keys (request_id, message_id, created_at) SELECT 'old-' || g, gen_random_uuid(), $1 FROM generate_series(1, 100) g`,
      [old],
    );
    // Another session holds one of them: the purge waits for it.
    const holder = new Client({ connectionString: database.url });
    await holder.connect();
    const maintenance = maintenanceBy(() => new Date());
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM request_keys WHERE request_id = 'old-1' FOR UPDATE`);
      await maintenance.onModuleInit();
      const [{ made }] = await dataSource.query<{ made: number }[]>(
        `SELECT count(*)::int AS made FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname = $1`,
        [`messages_p${partitionStart(new Date()).toISOString().slice(0, 10).replaceAll('-', '')}`],
      );
      expect(made).toBe(1);
      await holder.query('COMMIT');
      await maintenance.idle();
      const [{ left }] = await dataSource.query<{ left: number }[]>(`SELECT count(*)::int AS left FROM request_keys WHERE request_id LIKE 'old-%'`);
      expect(left).toBe(0);
    } finally {
      await holder.end();
      await maintenance.beforeApplicationShutdown();
    }
  });

  it('keeps this week’s messages when the message center’s clock runs 45 days ahead of the database’s, and says so', async () => {
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

  it('tells the time of the last run that did all it had to, not that of the start’s, which only makes partitions', async () => {
    await dataSource.query(`INSERT INTO request_keys (request_id, message_id, created_at) VALUES ('held-1', gen_random_uuid(), $1)`, [new Date(Date.now() - 60 * DAY_MS)]);
    const metrics = new Metrics('partition-maintenance-spec');
    const lastSuccess = async () => (await metrics.registry.getSingleMetric('notify_partition_maintenance_last_success_seconds')!.get()).values[0]!.value;
    // Another session holds a request id past retention: the purge of the run after the start's waits for it.
    const holder = new Client({ connectionString: database.url });
    await holder.connect();
    const maintenance = maintenanceBy(() => new Date(), undefined, metrics);
    const before = Date.now() / 1_000;
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM request_keys WHERE request_id = 'held-1' FOR UPDATE`);
      await maintenance.onModuleInit();
      expect(await lastSuccess()).toBe(0);
      await holder.query('COMMIT');
      await maintenance.idle();
      expect(await lastSuccess()).toBeGreaterThanOrEqual(before);
    } finally {
      await holder.end();
      await maintenance.beforeApplicationShutdown();
    }
  });

  it('gives up on a run still going after six hourly runs were skipped for it', async () => {
    await dataSource.query(`INSERT INTO request_keys (request_id, message_id, created_at) VALUES ('stuck-1', gen_random_uuid(), $1)`, [new Date(Date.now() - 60 * DAY_MS)]);
    // An idle session holds the request id past retention: the purge waits for it for ever.
    const holder = new Client({ connectionString: database.url });
    await holder.connect();
    const fatal: Error[] = [];
    const maintenance = maintenanceBy(() => new Date(), undefined, undefined, (error) => fatal.push(error));
    // The hourly runs only: the database's client keeps its own timers.
    jest.useFakeTimers({ doNotFake: ['Date', 'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout'] });
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM request_keys WHERE request_id = 'stuck-1' FOR UPDATE`);
      await maintenance.onModuleInit();
      jest.advanceTimersByTime(5 * 3_600_000);
      expect(fatal).toEqual([]);

      jest.advanceTimersByTime(3_600_000);

      expect(fatal.map((error) => error.message)).toEqual(['partition maintenance has run through 6 hourly runs; giving up']);
    } finally {
      jest.useRealTimers();
      await holder.query('COMMIT');
      await holder.end();
      await maintenance.beforeApplicationShutdown();
    }
  });
});
