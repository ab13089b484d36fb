import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * GetStats without a type sums every type's counters over a range of days; the primary key leads
 * with the type, so that read the whole table, which grows by a row per type and slot every day
 * and is never pruned.
 */
export class DailyStatsByDay1763600000018 implements MigrationInterface {
  name = 'DailyStatsByDay1763600000018';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX ix_daily_delivery_stats_day ON daily_delivery_stats (day)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ix_daily_delivery_stats_day`);
  }
}
