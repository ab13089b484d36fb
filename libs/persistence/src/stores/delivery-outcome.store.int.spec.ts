import { newId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { DeliveryOutcomeStore } from './delivery-outcome.store';

describe('DeliveryOutcomeStore.endQueued', () => {
  const database = migratedDatabase();
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);

  it('ends a queued delivery, and leaves one already sent and waiting for its acknowledgement alone', async () => {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const [queued, inFlight] = [newId(createdAt), newId(createdAt)];
    await query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [messageId, `r-${messageId}`, createdAt]);
    await query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at)
       VALUES ($1, $3, 'u1', 'websocket', 'inbox:u1', 'en', 'queued', 0, $4), ($2, $3, 'u2', 'websocket', 'inbox:u2', 'en', 'queued', 0, $4)`,
      [queued, inFlight, messageId, createdAt],
    );
    const store = new DeliveryOutcomeStore(database.dataSource());
    // the gateway took the second one and emitted it; then a replayed batch brings its job again, now too late
    expect([...(await store.claimAttempts([inFlight], 60_000)).keys()]).toEqual([inFlight]);

    const ended = await store.endQueued([
      { deliveryId: queued, status: 'expired', error: null },
      { deliveryId: inFlight, status: 'expired', error: null },
    ]);

    expect(ended.map((e) => [e.deliveryId, e.status])).toEqual([[queued, 'expired']]);
    const statuses = await query<{ id: string; status: string }>(`SELECT id, status FROM deliveries WHERE message_id = $1`, [messageId]);
    expect(Object.fromEntries(statuses.map((row) => [row.id, row.status]))).toEqual({ [queued]: 'expired', [inFlight]: 'sent' });
  });
});
