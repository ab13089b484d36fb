import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { DEFAULT_TEST_ADMIN_URL } from '@notify/testing';
import { createDataSource, runMigrations } from './data-source';

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

describe('migrations on a database not in UTF-8', () => {
  const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL;
  const name = `notify_test_ascii_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  afterAll(() => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));

  it('are refused with the encoding named, before any is applied', async () => {
    // What initdb makes where no locale is set: a varchar(128) there holds 128 bytes, 42 Chinese characters.
    await admin(`CREATE DATABASE "${name}" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;

    await expect(runMigrations({ databaseUrl: url.toString() })).rejects.toThrow("the database's encoding is SQL_ASCII, and the platform needs UTF8");
    const client = new Client({ connectionString: url.toString() });
    await client.connect();
    const { rows } = await client.query(`SELECT to_regclass('messages') AS messages`).finally(() => client.end());
    expect(rows).toEqual([{ messages: null }]);
  });
});
