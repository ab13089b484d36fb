import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A receiver's pending deliveries on one channel, oldest first: what a resend claim takes when any
 * of them is due. Before, the claim found them through `ix_deliveries_user`, which holds every
 * delivery the receiver ever had in the retention period, and read them all to keep the few still
 * failed or queued: a user with 300 delivered messages before 10 pending ones made the claim cost
 * twice as much per message, and one with thousands, a claim of several seconds. Only deliveries in
 * the resend path are here (`failed` with a retry time, `queued` under a poller's lease), so the
 * index stays small and the hot path's writes never touch it.
 */
export class PendingByReceiver1763600000020 implements MigrationInterface {
  name = 'PendingByReceiver1763600000020';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE INDEX ix_deliveries_pending_receiver ON deliveries (user_id, channel, created_at)
       WHERE status IN ('failed', 'queued') AND next_attempt_at IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ix_deliveries_pending_receiver`);
  }
}
