import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs SQL and returns its rows. TypeORM's `query()` answers an UPDATE … RETURNING with
 * `[rows, count]` but an INSERT … RETURNING with the rows; the structured result is the same for both.
 */
export async function queryRows<T>(db: DataSource | EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const manager = 'manager' in db ? db.manager : db;
  const runner = manager.queryRunner ?? manager.connection.createQueryRunner();
  try {
    const result = await runner.query(sql, params, true);
    return result.records as T[];
  } finally {
    if (!manager.queryRunner) await runner.release();
  }
}
