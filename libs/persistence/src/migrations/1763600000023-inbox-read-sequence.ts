import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reads numbered per user in the order they were stored, so a device that was away while its user
 * read messages on another one learns which (`syncReads`, contract section 4): the `read` event
 * reaches only the devices connected at the time. `inbox_read_sequences` holds each user's last
 * number; its row lock makes the numbers of one user's reads commit in their order, so a device that
 * has seen reads up to N misses none below it. A message gets the number of the read that first
 * marked it; reads stored before this migration have none.
 */
export class InboxReadSequence1763600000023 implements MigrationInterface {
  name = 'InboxReadSequence1763600000023';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE inbox_read_sequences (
        user_id varchar(128) NOT NULL,
        last_read_seq bigint NOT NULL,
        CONSTRAINT pk_inbox_read_sequences PRIMARY KEY (user_id)
      )`);
    await db.query(`ALTER TABLE inbox_entries ADD COLUMN read_seq bigint`);
    await db.query(`CREATE INDEX ix_inbox_entries_read_seq ON inbox_entries (user_id, read_seq) WHERE read_seq IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ix_inbox_entries_read_seq`);
    await db.query(`ALTER TABLE inbox_entries DROP COLUMN read_seq`);
    await db.query(`DROP TABLE inbox_read_sequences`);
  }
}
