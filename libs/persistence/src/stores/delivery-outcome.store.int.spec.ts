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

  it('cancels a released tier instead of claiming it when another tier of its message reached the user meanwhile', async () => {
    // [websocket, push after 30 s]: the push was released, then the browser acknowledged before the
    // push worker took the job; the cancel that the delivered event brings is still on its way.
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const [browser, push, otherUsersPush] = [newId(createdAt), newId(createdAt), newId(createdAt)];
    await query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [messageId, `r-${messageId}`, createdAt]);
    await query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, created_at)
       VALUES ($1, $4, 'u1', 'websocket', 'inbox:u1', 'en', 0, 'delivered', 1, $5),
              ($2, $4, 'u1', 'push', 'fcm:u1/phone', 'en', 1, 'queued', 0, $5),
              ($3, $4, 'u2', 'push', 'fcm:u2/phone', 'en', 1, 'queued', 0, $5)`,
      [browser, push, otherUsersPush, messageId, createdAt],
    );

    const claimed = await new DeliveryOutcomeStore(database.dataSource()).claimSends([push, otherUsersPush], 60_000);

    expect([...claimed.keys()]).toEqual([otherUsersPush]);
    const rows = await query<{ id: string; status: string; attempts: number; next_attempt_at: Date | null }>(
      `SELECT id, status, attempts, next_attempt_at FROM deliveries WHERE id = ANY($1::uuid[])`,
      [[push, otherUsersPush]],
    );
    expect(Object.fromEntries(rows.map((row) => [row.id, [row.status, row.attempts, row.next_attempt_at === null]]))).toEqual({
      [push]: ['cancelled', 0, true],
      [otherUsersPush]: ['sent', 1, false],
    });
  });

  it('counts a click on the link of a browser delivery cancelled while waiting for a retry, which its inbox still shows, but not on a tier cancelled unsent', async () => {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const [browser, push] = [newId(createdAt), newId(createdAt)];
    await query(`INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1, $2, 't', '{}', $3, $4)`, [
      messageId,
      `r-${messageId}`,
      { en: { title: 't', body: 'b', url: 'https://example.com/order/1' } },
      createdAt,
    ]);
    // The browser was offline (in the inbox at seq 7, then cancelled once the SMS tier reached the user); the push tier was never sent.
    await query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, seq, created_at)
       VALUES ($1, $3, 'u1', 'websocket', 'inbox:u1', 'en', 0, 'cancelled', 1, 7, $4), ($2, $3, 'u1', 'push', 'fcm:u1/phone', 'en', 1, 'cancelled', 0, NULL, $4)`,
      [browser, push, messageId, createdAt],
    );
    const store = new DeliveryOutcomeStore(database.dataSource());

    const [fromInbox, unsent] = [await store.click(browser), await store.click(push)];

    expect(fromInbox).toMatchObject({ target: 'https://example.com/order/1', event: { deliveryId: browser, status: 'clicked' } });
    expect(unsent).toEqual({ target: 'https://example.com/order/1', event: undefined });
    const rows = await query<{ id: string; status: string }>(`SELECT id, status FROM deliveries WHERE message_id = $1`, [messageId]);
    expect(Object.fromEntries(rows.map((row) => [row.id, row.status]))).toEqual({ [browser]: 'clicked', [push]: 'cancelled' });
  });
});
