import { newId } from '../ids';
import { migrationUnderTest } from '../migrated-database.spec-helper';
import { GivenBackRetries1763600000019 } from './1763600000019-given-back-retries';

const AT = new Date('2031-07-01T10:00:00Z');
const TYPE = 'given-back.test';

/**
 * GivenBackRetries1763600000019 on a database that already has retries in flight whose last send
 * never reached the vendor: they move into `failed` at once, and out again on revert.
 */
describe('migration: given-back retries count as failed', () => {
  const { dataSource } = migrationUnderTest(GivenBackRetries1763600000019);

  const failed = async () =>
    (await dataSource().query(`SELECT (SELECT sum(failed)::int FROM daily_delivery_stats WHERE type = $1) AS by_type, (SELECT sum(failed)::int FROM request_delivery_stats WHERE type = $1) AS by_request`, [TYPE]))[0];

  it('moves the retries in flight of a given-back attempt into failed, and takes them back on revert', async () => {
    // A first send, a throttled send claimed again by the resend poller (queued, no attempt, its error
    // kept, under a lease), and the same claimed by the channel worker (sent, one attempt).
    const states: [status: string, attempts: number, lastError: string | null][] = [
      ['queued', 0, null],
      ['queued', 0, 'throttled'],
      ['sent', 1, 'circuit_open'],
    ];
    for (const [status, attempts, lastError] of states) {
      const [messageId, deliveryId] = [newId(AT), newId(AT)];
      await dataSource().query(`INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1::uuid, 'r-' || $1::text, $2, '{}', '{}', $3)`, [messageId, TYPE, AT]);
      await dataSource().query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at) VALUES ($1, $2, 'u', 'push', 'apns:u/p', 'en', 'queued', $3)`,
        [deliveryId, messageId, AT],
      );
      await dataSource().query(`UPDATE deliveries SET status = $2, attempts = $3, last_error = $4, next_attempt_at = $5 WHERE id = $1`, [
        deliveryId, status, attempts, lastError, new Date(AT.getTime() + 60_000),
      ]);
    }
    expect(await failed()).toEqual({ by_type: 0, by_request: 0 });

    await dataSource().runMigrations({ transaction: 'all' });
    expect(await failed()).toEqual({ by_type: 2, by_request: 2 });

    await dataSource().undoLastMigration({ transaction: 'all' });
    expect(await failed()).toEqual({ by_type: 0, by_request: 0 });
  });
});
