import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The role the query API switches to after connecting (`QUERY_API_DATABASE_ROLE`). */
export const QUERY_API_ROLE = 'notify_query_api';

const READ = ['request_keys', 'messages', 'deliveries', 'daily_delivery_stats', 'request_delivery_stats', 'api_keys'];
const WRITE = ['recipients', 'devices', 'topic_subscriptions'];

/**
 * The query API reads messages, deliveries, counters and API keys and writes only the recipient
 * tables. The role cannot log in: the API connects as its login user and sets this role, so a test
 * database made by `postgres` and `npm start` need no password for it. Roles belong to the whole
 * server, so it is created only when missing (another database may have made it, even at the same
 * moment) and `down` leaves it in place.
 */
export class QueryApiRole1763600000012 implements MigrationInterface {
  name = 'QueryApiRole1763600000012';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${QUERY_API_ROLE}') THEN
          CREATE ROLE ${QUERY_API_ROLE} NOLOGIN;
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END $$`);
    // A superuser may set any role; any other migrating user becomes a member so the API, logging in as it,
    // can. One that already may set it (an administrator made the role and granted it) may not grant it
    // again. From PostgreSQL 16 a member may lack the right to set the role (its creator, by default), so
    // that right is what is checked there.
    await db.query(`
      DO $$
      BEGIN
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           AND NOT pg_has_role(current_user, '${QUERY_API_ROLE}',
                               CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END) THEN
          EXECUTE format('GRANT ${QUERY_API_ROLE} TO %I', current_user);
        END IF;
      END $$`);
    await db.query(`
      DO $$
      BEGIN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${QUERY_API_ROLE}', current_schema());
      END $$`);
    await db.query(`GRANT SELECT ON ${READ.join(', ')} TO ${QUERY_API_ROLE}`);
    await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${WRITE.join(', ')} TO ${QUERY_API_ROLE}`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`REVOKE ALL ON ${[...READ, ...WRITE].join(', ')} FROM ${QUERY_API_ROLE}`);
    await db.query(`
      DO $$
      BEGIN
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM ${QUERY_API_ROLE}', current_schema());
      END $$`);
  }
}
