import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The deliveries that failed and have no retry time yet: what the resend poller's first step
 * (`ResendStore.scheduleFailed`) looks for every poll. It found them through `ix_deliveries_due`,
 * whose rows include every held tier waiting without a time of its own (the next channel of an
 * `escalate` route with no `after`, held until the message expires): with a week of such tiers, each
 * poll, every 2 s, read them all to find the few newly failed. Rows leave this index as soon as they
 * are given a time, so it stays about as small as one poll's work.
 */
export class FailedAwaitingSchedule1763600000022 implements MigrationInterface {
  name = 'FailedAwaitingSchedule1763600000022';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX ix_deliveries_failed_unscheduled ON deliveries (created_at) WHERE status = 'failed' AND next_attempt_at IS NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ix_deliveries_failed_unscheduled`);
  }
}
