import type { OutcomeEvent } from '@notify/contracts';
import { createLogger } from '@notify/observability';
import { newId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { ChannelDeliveryStore } from './channel-delivery.store';
import { DeliveryOutcomeStore } from './delivery-outcome.store';
import { FallbackStore } from './fallback.store';
import { InboxStore } from './inbox.store';
import { ResendStore } from './resend.store';
import { eventsPublished, relayStagedRow } from './event-outbox';

describe('event outbox', () => {
  const database = migratedDatabase();
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);
  const logger = createLogger('event-outbox-spec', 'silent');
  const staged = () => query<{ id: string; events: OutcomeEvent[] }>(`SELECT id, events FROM event_outbox ORDER BY id`);
  const LEASE = { leaseMs: 60_000, eventsPerLease: 500 };

  /** A stored message created at `createdAt`, with `contents`; returns its id. */
  async function storedMessage(createdAt: Date, contents: Record<string, unknown> = {}): Promise<string> {
    const messageId = newId(createdAt);
    await query(`INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1, $2, 't', '{}', $3, $4)`, [
      messageId,
      `r-${messageId}`,
      contents,
      createdAt,
    ]);
    return messageId;
  }

  /** Three browser deliveries of one message, sent and waiting for their acknowledgements. */
  async function sentDeliveries(): Promise<string[]> {
    const createdAt = new Date();
    const messageId = await storedMessage(createdAt);
    const ids = [newId(createdAt), newId(createdAt), newId(createdAt)];
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

  it('stages the events of the other outcome writes too: a click, a channel worker’s expiry, a held tier found expired', async () => {
    const createdAt = new Date(Date.now() - 60_000);
    const messageId = await storedMessage(createdAt, { en: { title: 't', body: 'b', url: 'https://example.com/1' } });
    const [clicked, late, held] = [newId(createdAt), newId(createdAt), newId(createdAt)];
    await query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, expires_at, next_attempt_at, created_at)
       VALUES ($1, $4, 'u1', 'websocket', 'inbox:u1', 'en', 0, 'delivered', 1, NULL, NULL, $5),
              ($2, $4, 'u2', 'push', 'fcm:u2/phone', 'en', 0, 'queued', 0, now() - interval '1 second', NULL, $5),
              ($3, $4, 'u3', 'sms', 'sms:u3', 'en', 1, 'held', 0, now() - interval '1 second', now() + interval '1 hour', $5)`,
      [clicked, late, held, messageId, createdAt],
    );

    const click = await new DeliveryOutcomeStore(database.dataSource()).click(clicked);
    const expired = await new ChannelDeliveryStore(database.dataSource()).expire([late]);
    const released = await new FallbackStore(database.dataSource()).releaseDue(new Date(), 10);

    const events = [click!.event!, ...expired, ...released.expired];
    expect(events.map((e) => [e.deliveryId, e.status])).toEqual([
      [clicked, 'clicked'],
      [late, 'expired'],
      [held, 'expired'],
    ]);
    expect((await staged()).map((row) => row.events)).toEqual(events.map((e) => [JSON.parse(JSON.stringify(e))]));
    await eventsPublished(events, logger);
    expect(await staged()).toEqual([]);
  });

  it('stages the events of the resend poller’s writes, the channel worker’s record and a read', async () => {
    const createdAt = new Date(Date.now() - 60_000);
    const messageId = await storedMessage(createdAt);
    const [lost, pushed, browser] = [newId(createdAt), newId(createdAt), newId(createdAt)];
    await query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, expires_at, next_attempt_at, created_at)
       VALUES ($1, $4, 'u1', 'sms', 'sms:u1', 'en', 'sent', 1, now() - interval '1 second', now() - interval '1 second', $5),
              ($2, $4, 'u2', 'push', 'fcm:u2/phone', 'en', 'sent', 1, NULL, now() + interval '1 hour', $5),
              ($3, $4, 'u3', 'websocket', 'inbox:u3', 'en', 'delivered', 1, NULL, NULL, $5)`,
      [lost, pushed, browser, messageId, createdAt],
    );
    await query(`INSERT INTO inbox_entries (user_id, seq, message_id, locale, created_at) VALUES ('u3', 1, $1, 'en', $2)`, [messageId, createdAt]);
    const resend = new ResendStore(database.dataSource());

    // The lost send becomes failed, then (past its expiry) expired.
    const failed = await resend.failUnanswered(new Date(), 10);
    const { ended } = await resend.scheduleFailed(new Date(), 10);
    const recorded = await new ChannelDeliveryStore(database.dataSource()).record([{ deliveryId: pushed, status: 'sent', error: null, waitMs: null, attempt: 1 }]);
    const { events: read } = await new InboxStore(database.dataSource()).markRead('u3', [messageId]);

    const writes = [failed, ended, recorded, read];
    expect(writes.map((events) => events.map((e) => [e.deliveryId, e.status]))).toEqual([[[lost, 'failed']], [[lost, 'expired']], [[pushed, 'sent']], [[browser, 'read']]]);
    expect((await staged()).map((row) => row.events)).toEqual(writes.map((events) => JSON.parse(JSON.stringify(events))));
    await eventsPublished(writes.flat(), logger);
    expect(await staged()).toEqual([]);
  });

  it('stages nothing for a write that changed nothing', async () => {
    const store = new DeliveryOutcomeStore(database.dataSource());

    const events = await store.record([{ deliveryId: newId(new Date()), status: 'delivered', error: null }]);

    expect(events).toEqual([]);
    expect(await staged()).toEqual([]);
  });

  it('relays rows left long enough, oldest first, one at a time, and deletes them', async () => {
    const store = new DeliveryOutcomeStore(database.dataSource());
    const [first, second, fresh] = await sentDeliveries();
    // Three writes whose writers never published: two staged an hour or more ago (the older one
    // written second), one just now.
    const newer = await store.record([{ deliveryId: second!, status: 'failed', error: 'ack_timeout', attempt: 1 }]);
    await query(`UPDATE event_outbox SET staged_at = now() - interval '1 hour'`);
    const older = await store.record([{ deliveryId: first!, status: 'delivered', error: null }]);
    await query(`UPDATE event_outbox SET staged_at = now() - interval '2 hours' WHERE staged_at > now() - interval '1 hour'`);
    await store.record([{ deliveryId: fresh!, status: 'delivered', error: null }]);

    const published: OutcomeEvent[][] = [];
    const relay = () => relayStagedRow(database.dataSource(), 60_000, LEASE, async (events) => void published.push(events));

    expect([await relay(), await relay(), await relay()]).toEqual([1, 1, undefined]);
    expect(published).toEqual([JSON.parse(JSON.stringify(older)), JSON.parse(JSON.stringify(newer))]);
    const left = await staged();
    expect(left.map((row) => row.events.map((e) => e.deliveryId))).toEqual([[fresh]]);
  });

  it('keeps a row whose publishing failed, taken until its lease ends (one per produce call it takes), then publishes it', async () => {
    const store = new DeliveryOutcomeStore(database.dataSource());
    const ids = await sentDeliveries();
    const events = await store.record(ids.map((deliveryId) => ({ deliveryId, status: 'delivered', error: null })));
    await query(`UPDATE event_outbox SET staged_at = now() - interval '1 hour'`);
    const published: OutcomeEvent[] = [];
    // Three events, two a produce call: a lease of two minutes.
    const relay = (publish: (events: OutcomeEvent[]) => Promise<void>) => relayStagedRow(database.dataSource(), 60_000, { leaseMs: 60_000, eventsPerLease: 2 }, publish);

    await expect(relay(() => Promise.reject(new Error('broker away')))).rejects.toThrow('broker away');
    const [{ lease_s }] = await query<{ lease_s: number }>(`SELECT round(extract(epoch FROM taken_until - now()))::int AS lease_s FROM event_outbox`);
    expect(lease_s).toBeGreaterThan(60);
    // Taken: another relay passes it over while the lease lasts (its taker may still be trying).
    expect(await relay(async (e) => void published.push(...e))).toBeUndefined();
    expect(await staged()).toHaveLength(1);
    await query(`UPDATE event_outbox SET taken_until = now() - interval '1 second'`);
    expect(await relay(async (e) => void published.push(...e))).toBe(3);

    expect(published).toEqual(JSON.parse(JSON.stringify(events)));
    expect(await staged()).toEqual([]);
  });

  it('lets two relays at once publish each row once', async () => {
    const store = new DeliveryOutcomeStore(database.dataSource());
    const ids = await sentDeliveries();
    for (const deliveryId of ids) await store.record([{ deliveryId, status: 'delivered', error: null }]);
    await query(`UPDATE event_outbox SET staged_at = now() - interval '1 hour'`);

    const published: string[] = [];
    // Each relay publishes slowly, while the other takes the next row.
    const relay = async () => {
      let total = 0;
      for (;;) {
        const count = await relayStagedRow(database.dataSource(), 60_000, LEASE, async (events) => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          published.push(...events.map((e) => e.deliveryId!));
        });
        if (count === undefined) return total;
        total += count;
      }
    };
    const counts = await Promise.all([relay(), relay()]);

    expect(counts[0]! + counts[1]!).toBe(3);
    expect(published.sort()).toEqual([...ids].sort());
    expect(await staged()).toEqual([]);
  });
});
