import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@notify/testing';
import { createDataSource, runMigrations } from './data-source';

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
