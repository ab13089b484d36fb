import type { DataSource } from 'typeorm';
import { createDataSource } from './data-source';

describe('schema', () => {
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await createDataSource({ databaseUrl: process.env.DATABASE_URL!, databasePoolSize: 1 }).initialize();
  });
  afterAll(() => dataSource.destroy());

  it('is fully applied by the migrations: nothing is pending', async () => {
    expect(await dataSource.showMigrations()).toBe(false);
  });

  it('matches the entities: TypeORM finds nothing to change', async () => {
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });
});
