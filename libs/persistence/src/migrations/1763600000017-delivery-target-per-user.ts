import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A delivery's target includes its user. Recipients of one message who share a phone number or an
 * email address (a family's) each get their own delivery, with its own outcome and fallback tier;
 * with the endpoint alone as the key, the second user's row was dropped by `ON CONFLICT DO NOTHING`
 * while its job went out, and that user's fallback to the shared phone never came. NULLS NOT
 * DISTINCT keeps a bare endpoint (no user) unique as before.
 *
 * It rebuilds the unique index of every partition under an ACCESS EXCLUSIVE lock on `deliveries`:
 * writers and readers of deliveries wait until this migration commits. On a large installation, run
 * it in a quiet hour (the apps start only once their migrations are done).
 */
export class DeliveryTargetPerUser1763600000017 implements MigrationInterface {
  name = 'DeliveryTargetPerUser1763600000017';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries DROP CONSTRAINT uq_deliveries_target`);
    await db.query(`ALTER TABLE deliveries ADD CONSTRAINT uq_deliveries_target UNIQUE NULLS NOT DISTINCT (message_id, channel, endpoint, user_id, created_at)`);
  }

  /** Fails, leaving the data alone, while two users of one message share an endpoint. */
  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries DROP CONSTRAINT uq_deliveries_target`);
    await db.query(`ALTER TABLE deliveries ADD CONSTRAINT uq_deliveries_target UNIQUE (message_id, channel, endpoint, created_at)`);
  }
}
