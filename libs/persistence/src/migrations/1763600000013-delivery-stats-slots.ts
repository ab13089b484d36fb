import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * 64 counter slots per (type, day) instead of 16. A slot is the writing backend's pid modulo the
 * count, and a counter row stays locked until its writer commits. With 16 slots the platform's
 * own connections already collide: the message center, the gateway, the channel worker and the
 * scheduler keep 10 pooled connections each. Then a transaction waits for another one that touched
 * the same type and day to commit, which `pg_stat_activity` showed under a steady 1,000 requests/s
 * (`Lock: transactionid` waits in counter upserts). The connections of one pool have nearby pids,
 * so with 64 slots a few dozen of them never share a row. A query sums up to 64 rows per type and day.
 */
export class DeliveryStatsSlots1763600000013 implements MigrationInterface {
  name = 'DeliveryStatsSlots1763600000013';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION delivery_stats_slot() RETURNS smallint LANGUAGE sql STABLE
      AS $$ SELECT (pg_backend_pid() % 64)::smallint $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION delivery_stats_slot() RETURNS smallint LANGUAGE sql STABLE
      AS $$ SELECT (pg_backend_pid() % 16)::smallint $$`);
  }
}
