import type { Client } from 'pg';

/**
 * Runs `work` while PostgreSQL refuses rows of `table` that break `check`: a refusal validation
 * cannot foresee, made real with a CHECK constraint that is dropped again afterwards.
 */
export async function whileRefusing(db: Client, table: string, check: string, work: () => Promise<void>): Promise<void> {
  const constraint = `e2e_refuse_${table}_${Date.now()}`;
  await db.query(`ALTER TABLE ${table} ADD CONSTRAINT ${constraint} CHECK (${check})`);
  try {
    await work();
  } finally {
    await db.query(`ALTER TABLE ${table} DROP CONSTRAINT ${constraint}`);
  }
}
