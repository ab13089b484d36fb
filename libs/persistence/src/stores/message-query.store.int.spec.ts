import { createDataSource } from '../data-source';
import { newId } from '../ids';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { MessageQueryStore } from './message-query.store';

/**
 * A message sent to a topic has as many deliveries as the topic has subscribers. Its pages are read
 * from the unique index in its order; a plan that sorts reads every delivery of the message for each
 * page. The query API's statements are prepared with a generic plan (architecture, query API), so
 * that is the plan looked at.
 */
describe('MessageQueryStore: the deliveries of a large message', () => {
  // One connection: the statement the store prepared is in the session the test looks in.
  const database = migratedDatabase(1);
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);

  it('reads a page of a message’s deliveries in the index’s order, with no sort', async () => {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    await query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, 'r-topic', 't', '{}', $2)`, [messageId, createdAt]);
    await query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at)
       SELECT gen_random_uuid(), $1, 'user-' || lpad(g::text, 5, '0'), 'websocket', 'inbox:user-' || lpad(g::text, 5, '0'), 'en', 'delivered', $2
         FROM generate_series(1, 1500) g`,
      [messageId, createdAt],
    );
    await query(`SET plan_cache_mode = force_generic_plan`);
    const store = new MessageQueryStore(database.dataSource());

    const first = await store.listDeliveries(messageId, createdAt, undefined, 3);
    const second = await store.listDeliveries(messageId, createdAt, first!.next, 3);
    expect([...first!.deliveries, ...second!.deliveries].map((d) => d.userId)).toEqual(['user-00001', 'user-00002', 'user-00003', 'user-00004', 'user-00005', 'user-00006']);

    const prepared = await query<{ name: string; parameter_types: string }>(`SELECT name, parameter_types::text FROM pg_prepared_statements WHERE name LIKE 'notify_%'`);
    expect(prepared).toHaveLength(2);
    for (const { name, parameter_types } of prepared) {
      // The first page's statement, and the next page's, which also names the delivery it follows.
      const args = [`'${messageId}'`, `'${createdAt.toISOString()}'`, '4', `'${first!.next!}'`].slice(0, parameter_types.split(',').length);
      const [plan] = await query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${args.join(', ')})`);
      const nodes: string[] = [];
      JSON.stringify(plan!['QUERY PLAN'], (key, value: unknown) => (key === 'Node Type' && nodes.push(value as string), value));
      expect(nodes.filter((node) => node.includes('Sort'))).toEqual([]);
    }
  });
});

describe('MessageQueryStore: a database whose time zone is not UTC', () => {
  const database = migratedDatabase(1);
  const query = <T>(sql: string, params: unknown[] = []) => database.dataSource().query<T[]>(sql, params);

  it('reads a delivery’s times as the instants stored, also one before its zone’s standard time', async () => {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const expiresAt = new Date('1800-01-01T00:00:00Z');
    await query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, 'r-zone', 't', '{}', $2)`, [messageId, createdAt]);
    await query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at, expires_at)
       VALUES (gen_random_uuid(), $1, 'user-1', 'websocket', 'inbox:user-1', 'en', 'expired', $2, $3)`,
      [messageId, createdAt, expiresAt],
    );
    const [{ name }] = await query<{ name: string }>(`SELECT current_database() AS name`);
    await query(`ALTER DATABASE "${name}" SET timezone = 'America/New_York'`);
    const inNewYork = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    try {
      const page = await new MessageQueryStore(inNewYork).listDeliveries(messageId, createdAt, undefined, 10);
      expect(page!.deliveries.map((d) => [d.createdAt.toISOString(), d.expiresAt?.toISOString()])).toEqual([[createdAt.toISOString(), expiresAt.toISOString()]]);
    } finally {
      await inNewYork.destroy();
    }
  });
});
