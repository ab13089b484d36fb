import { newId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { ChannelDeliveryStore } from './channel-delivery.store';
import { DeliveryOutcomeStore } from './delivery-outcome.store';

describe('ChannelDeliveryStore.record', () => {
  const database = migratedDatabase();
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);

  it('gives the attempt back for a send that never reached the vendor, and keeps it for one that did', async () => {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const [throttled, refusedByVendor] = [newId(createdAt), newId(createdAt)];
    await query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [messageId, `r-${messageId}`, createdAt]);
    await query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at)
       VALUES ($1, $3, 'u1', 'sms', 'phone:1', 'en', 'queued', 2, $4), ($2, $3, 'u2', 'sms', 'phone:2', 'en', 'queued', 2, $4)`,
      [throttled, refusedByVendor, messageId, createdAt],
    );
    // the channel worker's claim makes the third attempt of each
    const attempts = await new DeliveryOutcomeStore(database.dataSource()).claimAttempts([throttled, refusedByVendor], 60_000);
    expect([...attempts.values()]).toEqual([3, 3]);

    const retryAt = new Date(createdAt.getTime() + 5_000);
    const recorded = await new ChannelDeliveryStore(database.dataSource()).record([
      { deliveryId: throttled, status: 'failed', error: 'throttled', nextAttemptAt: retryAt, attempt: 3, attempted: false },
      { deliveryId: refusedByVendor, status: 'failed', error: 'rate_limited', nextAttemptAt: retryAt, attempt: 3 },
    ]);

    expect(Object.fromEntries(recorded.map((e) => [e.deliveryId, [e.status, e.attempt]]))).toEqual({ [throttled]: ['failed', 2], [refusedByVendor]: ['failed', 3] });
    const rows = await query<{ id: string; attempts: number }>(`SELECT id, attempts FROM deliveries WHERE message_id = $1`, [messageId]);
    expect(Object.fromEntries(rows.map((row) => [row.id, row.attempts]))).toEqual({ [throttled]: 2, [refusedByVendor]: 3 });
  });
});
