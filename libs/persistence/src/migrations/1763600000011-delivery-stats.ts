import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outcome counters for GetStats, kept by statement-level triggers as rows are written, so a query
 * reads a handful of counter rows instead of scanning deliveries. Triggers rather than calls in the
 * stores: every writer of deliveries (ingest, claims, outcomes, fallback, resends, and any writer
 * added later) is counted without knowing about it, in the writer's own transaction.
 *
 * Each counter is the number of deliveries whose current row has the property (a delivery that is
 * read still counts as delivered), so the counters always equal an aggregate over the rows; a
 * trigger adds the properties of new rows and subtracts those of old ones. `requested` counts messages.
 *
 * - `daily_delivery_stats` per (type, UTC day of the message, slot). The slot is the writing
 *   backend's pid modulo 16: concurrent transactions of one busy type and day then update
 *   different rows instead of queueing on one row lock until each commits. A query sums the slots.
 * - `request_delivery_stats` per request id, for GetStats by request (a topic request may have
 *   thousands of deliveries). Its rows go when retention deletes the request id.
 *
 * Statement-level triggers with transition tables are allowed on a partitioned table (PostgreSQL 11+)
 * and see the rows of every partition; they do not fire for statements aimed at one partition, which
 * is what partition maintenance does when it moves rows or drops old days, so that never counts twice.
 * Rows that change none of the properties (an insert of queued deliveries, a new `seq`) cost a scan of
 * the transition tables and nothing else.
 */
export class DeliveryStats1763600000011 implements MigrationInterface {
  name = 'DeliveryStats1763600000011';

  async up(db: QueryRunner): Promise<void> {
    const counters = COUNTERS.map((c) => `${c} bigint NOT NULL DEFAULT 0`).join(',\n        ');
    await db.query(`
      CREATE TABLE daily_delivery_stats (
        type varchar(128) NOT NULL,
        day date NOT NULL,
        slot smallint NOT NULL,
        requested bigint NOT NULL DEFAULT 0,
        ${counters},
        CONSTRAINT pk_daily_delivery_stats PRIMARY KEY (type, day, slot)
      )`);
    await db.query(`
      CREATE TABLE request_delivery_stats (
        request_id varchar(128) NOT NULL,
        type varchar(128) NOT NULL,
        day date NOT NULL,
        ${counters},
        CONSTRAINT pk_request_delivery_stats PRIMARY KEY (request_id)
      )`);

    await db.query(`
      CREATE FUNCTION delivery_stats_slot() RETURNS smallint LANGUAGE sql STABLE
      AS $$ SELECT (pg_backend_pid() % 16)::smallint $$`);

    await db.query(trigger('count_requested', `
      INSERT INTO daily_delivery_stats AS s (type, day, slot, requested)
      SELECT type, (created_at AT TIME ZONE 'UTC')::date, delivery_stats_slot(), count(*)
        FROM new_messages
       GROUP BY 1, 2
       ORDER BY 1, 2
      ON CONFLICT (type, day, slot) DO UPDATE SET requested = s.requested + EXCLUDED.requested;`));
    await db.query(`
      CREATE TRIGGER messages_count_requested AFTER INSERT ON messages
      REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION count_requested()`);

    await db.query(trigger('count_inserted_deliveries', countChanges([['new_deliveries', '']])));
    await db.query(trigger('count_updated_deliveries', countChanges([['new_deliveries', ''], ['old_deliveries', '-']])));
    await db.query(trigger('count_deleted_deliveries', countChanges([['old_deliveries', '-']])));
    await db.query(`
      CREATE TRIGGER deliveries_count_inserted AFTER INSERT ON deliveries
      REFERENCING NEW TABLE AS new_deliveries FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_deliveries()`);
    await db.query(`
      CREATE TRIGGER deliveries_count_updated AFTER UPDATE ON deliveries
      REFERENCING OLD TABLE AS old_deliveries NEW TABLE AS new_deliveries FOR EACH STATEMENT EXECUTE FUNCTION count_updated_deliveries()`);
    await db.query(`
      CREATE TRIGGER deliveries_count_deleted AFTER DELETE ON deliveries
      REFERENCING OLD TABLE AS old_deliveries FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_deliveries()`);

    await db.query(trigger('forget_request_stats', `
      DELETE FROM request_delivery_stats s USING old_keys k WHERE s.request_id = k.request_id;`));
    await db.query(`
      CREATE TRIGGER request_keys_forget_stats AFTER DELETE ON request_keys
      REFERENCING OLD TABLE AS old_keys FOR EACH STATEMENT EXECUTE FUNCTION forget_request_stats()`);

    // Counts what was written before the triggers existed, so an existing installation starts right.
    await db.query(`
      INSERT INTO daily_delivery_stats (type, day, slot, requested)
      SELECT type, (created_at AT TIME ZONE 'UTC')::date, 0, count(*) FROM messages GROUP BY 1, 2`);
    await db.query(`
      WITH typed AS (
        SELECT m.request_id, m.type, (d.created_at AT TIME ZONE 'UTC')::date AS day, ${FLAGS('d', '')}
          FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at),
      per_request AS (
        INSERT INTO request_delivery_stats (request_id, type, day, ${COUNTERS.join(', ')})
        SELECT request_id, type, day, ${SUMS} FROM typed GROUP BY request_id, type, day)
      INSERT INTO daily_delivery_stats AS s (type, day, slot, ${COUNTERS.join(', ')})
      SELECT type, day, 0, ${SUMS} FROM typed GROUP BY type, day
      ON CONFLICT (type, day, slot) DO UPDATE SET ${COUNTERS.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TRIGGER request_keys_forget_stats ON request_keys`);
    await db.query(`DROP TRIGGER deliveries_count_deleted ON deliveries`);
    await db.query(`DROP TRIGGER deliveries_count_updated ON deliveries`);
    await db.query(`DROP TRIGGER deliveries_count_inserted ON deliveries`);
    await db.query(`DROP TRIGGER messages_count_requested ON messages`);
    for (const fn of ['forget_request_stats', 'count_deleted_deliveries', 'count_updated_deliveries', 'count_inserted_deliveries', 'count_requested', 'delivery_stats_slot']) {
      await db.query(`DROP FUNCTION ${fn}()`);
    }
    await db.query(`DROP TABLE request_delivery_stats`);
    await db.query(`DROP TABLE daily_delivery_stats`);
  }
}

/** The delivery counters, each a property of a delivery row as it is now. */
export const COUNTERS = ['sent', 'delivered', 'failed', 'dead', 'read', 'clicked'] as const;

/** What each counter counts: a condition on a delivery row. */
export type CounterProperties = Record<(typeof COUNTERS)[number], (row: string) => string>;

/** The properties as this migration defined them (`failed` was redefined by DeliveryStatsRetries1763600000016). */
export const PROPERTY: CounterProperties = {
  sent: (r) => `${r}.attempts > 0`,
  delivered: (r) => `${r}.status IN ('delivered', 'read', 'clicked')`,
  failed: (r) => `${r}.status = 'failed'`,
  dead: (r) => `${r}.status = 'dead'`,
  read: (r) => `${r}.status IN ('read', 'clicked')`,
  clicked: (r) => `${r}.status = 'clicked'`,
};

/** Each counter's 0/1 for a row, negated for rows that go away. */
const FLAGS = (row: string, sign: '' | '-', property: CounterProperties = PROPERTY) =>
  COUNTERS.map((c) => `${sign}(${property[c](row)})::int AS ${c}`).join(', ');
const SUMS = COUNTERS.map((c) => `sum(${c})`).join(', ');
const ADD = COUNTERS.map((c) => `${c} = s.${c} + EXCLUDED.${c}`).join(', ');

/**
 * SQL that folds the deliveries of the given transition tables into the counters: per message the
 * net change, only where something changed, then the message's type and request id (one index
 * probe per changed message: a LATERAL with LIMIT is never flattened, so a big statement cannot turn it
 * into a hash join over every message).
 * Upserts go in key order, so two transactions touching the same rows cannot deadlock on them.
 */
export function countChanges(sources: [table: string, sign: '' | '-'][], property: CounterProperties = PROPERTY): string {
  const rows = sources.map(([table, sign]) => `SELECT r.message_id, r.created_at, ${FLAGS('r', sign, property)} FROM ${table} r`).join('\n UNION ALL ');
  return `
      WITH changed AS (
        SELECT c.message_id, c.created_at, ${COUNTERS.map((k) => `sum(c.${k}) AS ${k}`).join(', ')}
          FROM (${rows}) AS c
         GROUP BY c.message_id, c.created_at
        HAVING ${COUNTERS.map((k) => `sum(c.${k}) <> 0`).join(' OR ')}),
      typed AS (
        SELECT msg.request_id, msg.type, (c.created_at AT TIME ZONE 'UTC')::date AS day, ${COUNTERS.map((k) => `c.${k}`).join(', ')}
          FROM changed c
          CROSS JOIN LATERAL (SELECT m.request_id, m.type FROM messages m
                               WHERE m.id = c.message_id AND m.created_at = c.created_at LIMIT 1) AS msg),
      per_request AS (
        INSERT INTO request_delivery_stats AS s (request_id, type, day, ${COUNTERS.join(', ')})
        SELECT request_id, type, day, ${SUMS} FROM typed GROUP BY request_id, type, day ORDER BY request_id
        ON CONFLICT (request_id) DO UPDATE SET ${ADD})
      INSERT INTO daily_delivery_stats AS s (type, day, slot, ${COUNTERS.join(', ')})
      SELECT type, day, delivery_stats_slot(), ${SUMS} FROM typed GROUP BY type, day ORDER BY type, day
      ON CONFLICT (type, day, slot) DO UPDATE SET ${ADD};`;
}

/**
 * A trigger function. SECURITY DEFINER with the search path of the migration, so a writer of
 * deliveries needs no privileges on the counter tables and cannot redirect them.
 */
export function trigger(name: string, body: string, create: 'CREATE' | 'CREATE OR REPLACE' = 'CREATE'): string {
  return `
    ${create} FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    BEGIN
      ${body.trim()}
      RETURN NULL;
    END $$`;
}
