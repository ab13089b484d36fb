import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export const DEFAULT_TEST_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A database of its own, prepared by `migrate` (the schema's migrations); dropped when the caller is done. */
export async function createTestDatabase(
  adminUrl = DEFAULT_TEST_ADMIN_URL,
  migrate: (url: string) => Promise<unknown>,
): Promise<TestDatabase> {
  const name = `notify_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  // UTF-8 whatever the server's default (the migrations refuse any other encoding): template0 takes any.
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE "${name}" ENCODING 'UTF8' TEMPLATE template0`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const drop = () => withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined);
  try {
    await migrate(url.toString());
  } catch (error) {
    await drop().catch(() => undefined);
    throw error;
  }
  return { url: url.toString(), name, drop };
}

async function withAdmin<T>(adminUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
