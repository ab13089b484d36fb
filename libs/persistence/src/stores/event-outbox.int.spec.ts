import type { OutcomeEvent } from '@notify/contracts';
import { createLogger } from '@notify/observability';
import { newId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { DeliveryOutcomeStore } from './delivery-outcome.store';
import { eventsPublished, relayStagedEvents } from './event-outbox';

describe('event outbox', () => {
  const database = migratedDatabase();
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);
  const logger = createLogger('event-outbox-spec', 'silent');
  const staged = () => query<{ id: string; events: OutcomeEvent[] }>(`SELECT id, events FROM event_outbox ORDER BY id`);

  /** Three browser deliveries of one message, sent and waiting for their acknowledgements. */
  async function sentDeliveries(): Promise<string[]> {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const ids = [newId(createdAt), newId(createdAt), newId(createdAt)];
    await query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [messageId, `r-${messageId}`, createdAt]);
    for (const [i, id] of ids.entries()) {
      await query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at)
         VALUES ($1, $2, $3, 'websocket', $4, 'en', 'sent', 1, $5)`,
        [id, messageId, `u${i}`, `inbox:u${i}`, createdAt],
      );
    }
    return ids;
  }

  beforeEach(async () => {
    await query(`DELETE FROM event_outbox`);
  });

  it('stages the events of recorded outcomes with them, as they are published, and drops the row once all of them are', async () => {
    const ids = await sentDeliveries();
    const store = new DeliveryOutcomeStore(database.dataSource());

    const events = await store.record(ids.map((deliveryId) => ({ deliveryId, status: 'delivered', error: null, attempt: 1 })));

    expect(events).toHaveLength(3);
    const [row] = await staged();
    expect(row!.events).toEqual(JSON.parse(JSON.stringify(events)));
    // Published in two produce calls: the row stays until its last event is out.
    await eventsPublished(events.slice(0, 2), logger);
    expect(await staged()).toHaveLength(1);
    await eventsPublished(events.slice(2), logger);
    expect(await staged()).toEqual([]);
  });

  it('stages nothing for a write that changed nothing', async () => {
    const store = new DeliveryOutcomeStore(database.dataSource());

    const events = await store.record([{ deliveryId: newId(new Date()), status: 'delivered', error: null }]);

    expect(events).toEqual([]);
    expect(await staged()).toEqual([]);
  });

  it('relays rows left long enough, oldest first, deletes them, and keeps them when publishing fails', async () => {
    const store = new DeliveryOutcomeStore(database.dataSource());
    const [first, second, fresh] = await sentDeliveries();
    // Three writes whose writers never published: two staged an hour ago, one just now.
    const old = [...(await store.record([{ deliveryId: first!, status: 'delivered', error: null }])), ...(await store.record([{ deliveryId: second!, status: 'failed', error: 'ack_timeout', attempt: 1 }]))];
    await query(`UPDATE event_outbox SET staged_at = now() - interval '1 hour'`);
    await store.record([{ deliveryId: fresh!, status: 'delivered', error: null }]);

    const refused = relayStagedEvents(database.dataSource(), 60_000, 10, () => Promise.reject(new Error('broker away')));
    await expect(refused).rejects.toThrow('broker away');
    expect(await staged()).toHaveLength(3);

    const published: OutcomeEvent[] = [];
    const count = await relayStagedEvents(database.dataSource(), 60_000, 10, async (events) => void published.push(...events));

    expect(count).toBe(2);
    expect(published).toEqual(JSON.parse(JSON.stringify(old)));
    const left = await staged();
    expect(left.map((row) => row.events.map((e) => e.deliveryId))).toEqual([[fresh]]);
  });

  it('lets two relays at once publish each row once', async () => {
    const store = new DeliveryOutcomeStore(database.dataSource());
    const ids = await sentDeliveries();
    for (const deliveryId of ids) await store.record([{ deliveryId, status: 'delivered', error: null }]);
    await query(`UPDATE event_outbox SET staged_at = now() - interval '1 hour'`);

    const published: string[] = [];
    // Each relay publishes slowly, one row per transaction, while the other runs.
    const relay = async () => {
      let total = 0;
      for (let n = 1; n > 0; total += n) {
        n = await relayStagedEvents(database.dataSource(), 60_000, 1, async (events) => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          published.push(...events.map((e) => e.deliveryId!));
        });
      }
      return total;
    };
    const counts = await Promise.all([relay(), relay()]);

    expect(counts[0]! + counts[1]!).toBe(3);
    expect(published.sort()).toEqual([...ids].sort());
    expect(await staged()).toEqual([]);
  });
});
