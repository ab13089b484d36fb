import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { TestDatabase } from '@notify/testing';
import { createDataSource } from '../data-source';
import { databaseBefore } from '../migrated-database.spec-helper';
import { QUERY_API_ROLE, QueryApiRole1763600000012 } from './1763600000012-query-api-role';

/**
 * A least-privilege installation: the migrating login owns the database and its tables but may not
 * create roles, and an administrator made the query API's role and granted it to that login.
 */
describe('migration: the query API role, migrated by a login that may not create roles', () => {
  const migrator = `notify_migrator_${randomBytes(4).toString('hex')}`;
  let database: TestDatabase;
  let admin: DataSource;
  let asMigrator: DataSource;

  beforeAll(async () => {
    database = await databaseBefore(QueryApiRole1763600000012);
    admin = await createDataSource({ databaseUrl: database.url, databasePoolSize: 1 }).initialize();
    await admin.query(`DO $$ BEGIN CREATE ROLE ${QUERY_API_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    await admin.query(`CREATE ROLE ${migrator} LOGIN NOSUPERUSER NOCREATEROLE`);
    await admin.query(`GRANT ${QUERY_API_ROLE} TO ${migrator}`);
    await admin.query(`ALTER DATABASE "${database.name}" OWNER TO ${migrator}`);
    const tables: { name: string }[] = await admin.query(`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()`);
    for (const { name } of tables) await admin.query(`ALTER TABLE "${name}" OWNER TO ${migrator}`);
    const url = new URL(database.url);
    url.username = migrator;
    url.password = '';
    asMigrator = await createDataSource({ databaseUrl: url.toString(), databasePoolSize: 1 }).initialize();
  });
  afterAll(async () => {
    await asMigrator?.destroy();
    // Roles belong to the server: this one goes, its database's objects back to the administrator.
    await admin?.query(`REASSIGN OWNED BY ${migrator} TO CURRENT_USER`);
    await admin?.query(`DROP OWNED BY ${migrator}`);
    await admin?.query(`DROP ROLE ${migrator}`);
    await admin?.destroy();
    await database?.drop();
  });

  it('goes through, and the role may read messages and write the recipient tables only', async () => {
    const runner = asMigrator.createQueryRunner();
    try {
      await new QueryApiRole1763600000012().up(runner);
    } finally {
      await runner.release();
    }
    const [privileges] = await admin.query(
      `SELECT has_table_privilege($1, 'messages', 'SELECT') AS reads, has_table_privilege($1, 'messages', 'INSERT') AS writes_messages,
              has_table_privilege($1, 'devices', 'INSERT') AS writes_devices`,
      [QUERY_API_ROLE],
    );
    expect(privileges).toEqual({ reads: true, writes_messages: false, writes_devices: true });
  });
});
