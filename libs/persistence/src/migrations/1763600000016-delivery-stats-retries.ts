import type { MigrationInterface, QueryRunner } from 'typeorm';
import { countChanges, PROPERTY, trigger, type CounterProperties } from './1763600000011-delivery-stats';

/**
 * A delivery being retried keeps counting as `failed` until its retry has an outcome: its last
 * attempt that ended did fail, and a retry may follow (contract §5, GetStats). Before, the resend
 * poller's claim (failed → queued) took it out of `failed` and the retry's outcome put it back or
 * moved it to `delivered`, so every retry cost two counter upserts per request — half the counter
 * work of a resend, for a state that lasts as long as a send. Now the claim changes no counter and
 * the triggers skip it after scanning the transition tables; only the outcome is counted.
 *
 * A retry is queued after at least one attempt, or sent for at least its second attempt, and in
 * both cases under a lease (the resend poller's claim, then the gateway's or channel worker's): no
 * other path gives a queued or sent delivery those attempt counts (a first send is queued with none
 * and sent with one; a held fallback tier is released with none). A provider's acceptance ends the
 * lease and leaves the delivery `sent` for good: the retry has its outcome, and it no longer counts
 * as failed. Naming the lease also lets this migration find the retries through `ix_deliveries_leased`
 * instead of reading every delivery while writers wait.
 *
 * The counters of deliveries already in flight are moved over in the same transaction, with writers
 * of deliveries held off until it commits, so nothing is counted twice or missed.
 */
export class DeliveryStatsRetries1763600000016 implements MigrationInterface {
  name = 'DeliveryStatsRetries1763600000016';

  async up(db: QueryRunner): Promise<void> {
    await redefineFailed(db, RETRIES_FAILED, inFlightRetry('d'), '+');
  }

  async down(db: QueryRunner): Promise<void> {
    await redefineFailed(db, PROPERTY, inFlightRetry('d'), '-');
  }
}

/** A retry in flight on row `r`: queued again after an attempt, or sent again, under a claim's lease. */
export const inFlightRetry = (r: string): string =>
  `((${r}.status = 'queued' AND ${r}.attempts > 0 OR ${r}.status = 'sent' AND ${r}.attempts > 1) AND ${r}.next_attempt_at IS NOT NULL)`;

/** `failed` as this migration defines it: as before, and retries in flight too. */
export const RETRIES_FAILED: CounterProperties = {
  ...PROPERTY,
  failed: (r) => `(${PROPERTY.failed(r)} OR ${inFlightRetry(r)})`,
};

/**
 * Replaces the counting triggers' functions with `property`, then adds (`+`) or takes back (`-`) the
 * deliveries `d` that `moved` names (those whose `failed` the change of definition turns) in the
 * `failed` counters: per request, and per type and day in slot 0.
 */
export async function redefineFailed(db: QueryRunner, property: CounterProperties, moved: string, sign: '+' | '-'): Promise<void> {
  // Writers wait until the new definition and the counters that match it are committed together.
  // Both tables, messages first as the ingest writes them: the ingest's trigger on messages locks a
  // counter row this migration updates, so locking deliveries alone could deadlock with it.
  await db.query(`LOCK TABLE messages, deliveries IN SHARE ROW EXCLUSIVE MODE`);
  await db.query(trigger('count_inserted_deliveries', countChanges([['new_deliveries', '']], property), 'CREATE OR REPLACE'));
  await db.query(trigger('count_updated_deliveries', countChanges([['new_deliveries', ''], ['old_deliveries', '-']], property), 'CREATE OR REPLACE'));
  await db.query(trigger('count_deleted_deliveries', countChanges([['old_deliveries', '-']], property), 'CREATE OR REPLACE'));
  await db.query(`
    WITH retries AS (
      SELECT m.request_id, m.type, (d.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
        FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at
       WHERE ${moved}
       GROUP BY 1, 2, 3),
    -- An upsert: a request whose deliveries never changed a counter (a send given back before its first
    -- attempt) has no row yet.
    per_request AS (
      INSERT INTO request_delivery_stats AS s (request_id, type, day, failed)
      SELECT request_id, type, day, ${sign === '+' ? '' : '-'}n FROM retries
      ON CONFLICT (request_id) DO UPDATE SET failed = s.failed + EXCLUDED.failed)
    INSERT INTO daily_delivery_stats AS s (type, day, slot, failed)
    SELECT type, day, 0, ${sign === '+' ? '' : '-'}sum(n) FROM retries GROUP BY type, day
    ON CONFLICT (type, day, slot) DO UPDATE SET failed = s.failed + EXCLUDED.failed`);
}
