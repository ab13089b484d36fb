import { Client } from 'pg';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL } from './test-database';

describe('createTestDatabase', () => {
  const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL;

  async function databasesOfThisProcess(): Promise<string[]> {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`notify_test_${process.pid}_%`]);
      return rows.map((row) => row.datname);
    } finally {
      await client.end();
    }
  }

  it('drops the database it made when the migration fails, and reports the failure', async () => {
    const before = await databasesOfThisProcess();
    let created: string | undefined;
    await expect(
      createTestDatabase(adminUrl, async (url) => {
        created = new URL(url).pathname.slice(1);
        throw new Error('migration failed');
      }),
    ).rejects.toThrow('migration failed');
    expect(created).toMatch(/^notify_test_/);
    expect(await databasesOfThisProcess()).toEqual(before);
  });
});
