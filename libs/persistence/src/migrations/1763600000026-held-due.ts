import type { MigrationInterface, QueryRunner } from 'typeorm';

const INDEX = 'ix_deliveries_held_due';
const COLUMNS_AND_PREDICATE = `(next_attempt_at) WHERE status = 'held' AND next_attempt_at IS NOT NULL`;

/**
 * Held deliveries by their time (a scheduled send, an escalation's wait), for the release poller
 * (`RELEASE_DUE`). It found them through `ix_deliveries_due`, which holds the failed deliveries too,
 * with a condition on the time or the expiry that no index could answer: every poll read every held
 * and failed delivery, 0.1 s with 150,000 held tiers and 0.45 s with a backlog of retries beside them.
 *
 * Built as architecture D2 asks of an index on a large table: on the parent only, then
 * `CONCURRENTLY` on each partition (writes go on meanwhile), then attached; so without a
 * transaction. A week's partition made meanwhile gets the index with its creation. A run stopped
 * half-way is taken up again: what exists is kept, an invalid build is made again.
 */
export class HeldDue1763600000026 implements MigrationInterface {
  name = 'HeldDue1763600000026';
  transaction = false as const;

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX IF NOT EXISTS ${INDEX} ON ONLY deliveries ${COLUMNS_AND_PREDICATE}`);
    const partitions = await db.query(
      `SELECT p.oid::regclass::text AS partition, format('%I', left('ix_' || p.relname || '_held_due', 63)) AS index
         FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid
        WHERE i.inhparent = 'deliveries'::regclass
          -- one whose index is attached already (made with the partition, or by a run stopped half-way)
          AND NOT EXISTS (SELECT 1 FROM pg_inherits a JOIN pg_index x ON x.indexrelid = a.inhrelid
                           WHERE a.inhparent = '${INDEX}'::regclass AND x.indrelid = p.oid)
        ORDER BY p.relname`,
    );
    for (const { partition, index } of partitions as { partition: string; index: string }[]) {
      const [built] = await db.query(`SELECT x.indisvalid AS valid FROM pg_index x WHERE x.indexrelid = to_regclass($1)`, [index]);
      if (built && !built.valid) await db.query(`DROP INDEX ${index}`);
      if (!built || !built.valid) await db.query(`CREATE INDEX CONCURRENTLY ${index} ON ${partition} ${COLUMNS_AND_PREDICATE}`);
      await db.query(`ALTER INDEX ${INDEX} ATTACH PARTITION ${index}`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ${INDEX}`);
  }
}
