import type { MigrationInterface, QueryRunner } from 'typeorm';
import { QUERY_API_ROLE } from './1763600000012-query-api-role';

/**
 * When each user was last removed (`user-removed`, `RemoveRecipient`), for partition maintenance to
 * forget their inbox numbers (`inbox_sequences`, `inbox_read_sequences`) once retention has taken
 * their inbox: nothing else ever deleted them, so an erased user's id stayed in both for good. A row
 * goes then, or when the user comes back (a profile, a device or a subscription of theirs written
 * again). Users removed before this migration have none: their numbers stay, as before.
 */
export class RemovedUsers1763600000030 implements MigrationInterface {
  name = 'RemovedUsers1763600000030';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE removed_users (
        user_id varchar(128) NOT NULL,
        removed_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_removed_users PRIMARY KEY (user_id)
      )`);
    // The query API removes users too (`RemoveRecipient`), and its writes of a user bring them back.
    await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON removed_users TO ${QUERY_API_ROLE}`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE removed_users`);
  }
}
