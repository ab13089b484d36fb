import { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@notify/testing';
import { createDataSource, MIGRATIONS, runMigrations } from './data-source';

/**
 * For a spec file: a database of its own with every migration, made before its tests and dropped
 * after them, and a DataSource on it with `poolSize` connections.
 */
export function migratedDatabase(poolSize = 2): { dataSource: () => DataSource; url: () => string } {
  let database: TestDatabase | undefined;
  let dataSource: DataSource | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: poolSize }).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });
  return { dataSource: () => dataSource!, url: () => database!.url };
}

/**
 * A database of its own with the migrations before `migration` applied, as an installation of the
 * version before has it, each in a transaction of its own as `npm run migrate` has them (one that
 * builds an index CONCURRENTLY runs in none). Dropping it is the caller's.
 */
export async function databaseBefore(migration: (typeof MIGRATIONS)[number]): Promise<TestDatabase> {
  return createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, async (url) => {
    const before = await migrationsUpTo(url, migration, 1, false).initialize();
    try {
      await before.runMigrations({ transaction: 'each' });
    } finally {
      await before.destroy();
    }
  });
}

/** A DataSource that knows the migrations up to `migration` (included or not) as all there are. */
export function migrationsUpTo(url: string, migration: (typeof MIGRATIONS)[number], poolSize: number, included = true): DataSource {
  const index = MIGRATIONS.indexOf(migration);
  return new DataSource({ ...createDataSource({ databaseUrl: url, databasePoolSize: poolSize }).options, migrations: MIGRATIONS.slice(0, included ? index + 1 : index) });
}

/**
 * For a migration's spec file: a database of its own with the migrations before `migration` applied,
 * made before its tests and dropped after them, and a DataSource on it that knows `migration` as the
 * last there is (its tests run and revert it).
 */
export function migrationUnderTest(migration: (typeof MIGRATIONS)[number]): { dataSource: () => DataSource } {
  let database: TestDatabase | undefined;
  let dataSource: DataSource | undefined;
  beforeAll(async () => {
    database = await databaseBefore(migration);
    dataSource = await migrationsUpTo(database.url, migration, 2).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });
  return { dataSource: () => dataSource! };
}
