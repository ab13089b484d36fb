import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@notify/testing';
import { MIGRATIONS, runMigrations } from '../data-source';

/** Two deploys' migration runs started at once on an empty database (two init containers). */
describe('migration runs started together', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, async () => undefined);
  });
  afterAll(() => database.drop());

  it('apply each migration once: one run applies them all, the other finds nothing left', async () => {
    const runs = await Promise.all([runMigrations({ databaseUrl: database.url }), runMigrations({ databaseUrl: database.url })]);
    const names = MIGRATIONS.map((migration) => migration.name);
    expect(runs.map((applied) => applied.length).sort((a, b) => a - b)).toEqual([0, names.length]);
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id');
      expect(rows.map((row) => row.name)).toEqual(names);
    } finally {
      await client.end();
    }
  });
});
