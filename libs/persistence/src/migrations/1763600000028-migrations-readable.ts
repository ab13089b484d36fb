import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every app reads the applied migrations at its start and refuses a database that lacks one it
 * needs (`requireMigrations`), whatever role it connects as: the query API's restricted role, one
 * an installation names in QUERY_API_DATABASE_ROLE, an app's own login. So every role may read
 * them: names and times of migrations tell no more than the catalogs show every role already.
 */
export class MigrationsReadable1763600000028 implements MigrationInterface {
  name = 'MigrationsReadable1763600000028';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`GRANT SELECT ON schema_migrations TO PUBLIC`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`REVOKE SELECT ON schema_migrations FROM PUBLIC`);
  }
}
