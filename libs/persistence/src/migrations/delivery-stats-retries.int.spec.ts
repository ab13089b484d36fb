import { newId } from '../ids';
import { migrationUnderTest } from '../migrated-database.spec-helper';
import { DeliveryStatsRetries1763600000016 } from './1763600000016-delivery-stats-retries';

const AT = new Date('2031-06-01T10:00:00Z');
const TYPE = 'retries.test';
const LEASE_END = new Date(AT.getTime() + 60_000);

/** A delivery state (with or without a lease) and how many deliveries are in it when the migration runs. */
const STATES: [status: string, attempts: number, leased: boolean, count: number][] = [
  ['queued', 0, false, 2], // a first send, waiting
  ['sent', 1, true, 3], // a first send, in flight
  ['failed', 1, false, 4], // waiting for its retry
  ['queued', 1, true, 5], // a retry claimed by the resend poller
  ['sent', 2, true, 6], // a retry in flight
  ['sent', 2, false, 1], // a retry a provider accepted: sent for good
  ['delivered', 2, false, 7],
];

/** `failed` from the rows: before the migration the status alone, after it retries in flight too. */
const FAILED_BEFORE = `d.status = 'failed'`;
const FAILED_AFTER = `(d.status = 'failed' OR (d.status = 'queued' AND d.attempts > 0 AND d.next_attempt_at IS NOT NULL) OR (d.status = 'sent' AND d.attempts > 1 AND d.next_attempt_at IS NOT NULL))`;

/**
 * DeliveryStatsRetries1763600000016 redefines `failed` on a database that already has counters and
 * retries in flight: the counters must match the new definition right after it, keep matching as
 * the retries go on, and match the old one again after it is reverted.
 */
describe('migration: retries in flight count as failed', () => {
  const { dataSource } = migrationUnderTest(DeliveryStatsRetries1763600000016);

  /**
   * The failed counters as GetStats reads them (summed by type, and by request) and the same counted
   * from the rows with `rowCondition`: all three must be `expected`.
   */
  async function expectFailed(rowCondition: string, expected: number): Promise<void> {
    const [counters] = await dataSource().query(
      `SELECT (SELECT sum(failed)::int FROM daily_delivery_stats WHERE type = $1) AS by_type,
              (SELECT sum(failed)::int FROM request_delivery_stats WHERE type = $1) AS by_request`,
      [TYPE],
    );
    const [rows] = await dataSource().query(
      `SELECT count(*) FILTER (WHERE ${rowCondition})::int AS failed FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at WHERE m.type = $1`,
      [TYPE],
    );
    expect({ byType: counters.by_type, byRequest: counters.by_request, fromRows: rows.failed }).toEqual({ byType: expected, byRequest: expected, fromRows: expected });
  }

  it('moves the retries in flight into failed, keeps counting them there, and takes them back on revert', async () => {
    // One message per delivery, each with its own request id, inserted as the ingest does (queued),
    // then moved to its state by an UPDATE as the claims and outcomes do: the triggers count them.
    const ids: string[] = [];
    for (const [status, attempts, leased, count] of STATES) {
      for (let i = 0; i < count; i++) {
        const [messageId, deliveryId] = [newId(AT), newId(AT)];
        await dataSource().query(`INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1::uuid, 'r-' || $1::text, $2, '{}', '{}', $3)`, [messageId, TYPE, AT]);
        await dataSource().query(
          `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at) VALUES ($1, $2, 'u', 'websocket', 'inbox:u', 'en', 'queued', $3)`,
          [deliveryId, messageId, AT],
        );
        await dataSource().query(`UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4 WHERE id = $1`, [deliveryId, status, attempts, leased ? LEASE_END : null]);
        if (status === 'queued' && attempts === 1) ids.push(deliveryId);
      }
    }
    await expectFailed(FAILED_BEFORE, 4);

    await dataSource().runMigrations({ transaction: 'all' });
    await expectFailed(FAILED_AFTER, 4 + 5 + 6);

    // The claimed retries are sent on their second attempt, under the lease (no change); two are
    // delivered and one is accepted by a provider (sent for good): each has its outcome.
    await dataSource().query(`UPDATE deliveries SET status = 'sent', attempts = attempts + 1 WHERE id = ANY($1::uuid[])`, [ids]);
    await expectFailed(FAILED_AFTER, 4 + 5 + 6);
    await dataSource().query(`UPDATE deliveries SET status = 'delivered', next_attempt_at = NULL WHERE id = ANY($1::uuid[])`, [ids.slice(0, 2)]);
    await dataSource().query(`UPDATE deliveries SET next_attempt_at = NULL WHERE id = $1`, [ids[2]]);
    await expectFailed(FAILED_AFTER, 4 + 5 + 6 - 3);

    await dataSource().undoLastMigration({ transaction: 'all' });
    await expectFailed(FAILED_BEFORE, 4);
  });
});
