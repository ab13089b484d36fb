import type { MigrationInterface, QueryRunner } from 'typeorm';

const INDEX = 'ix_devices_inactive';

/**
 * The deactivated devices by their last change, for partition maintenance, which deletes those
 * unchanged for the retention period every hour (`purgeInactiveDevices`): without it each run read
 * every device. Only deactivated rows are in it: about as many as the retention period deactivates.
 *
 * Built `CONCURRENTLY` (registrations go on meanwhile), so without a transaction; a build stopped
 * half-way leaves an invalid index, made again by the next run.
 */
export class InactiveDevices1763600000027 implements MigrationInterface {
  name = 'InactiveDevices1763600000027';
  transaction = false as const;

  async up(db: QueryRunner): Promise<void> {
    const [built] = await db.query(`SELECT x.indisvalid AS valid FROM pg_index x WHERE x.indexrelid = to_regclass($1)`, [INDEX]);
    if (built?.valid) return;
    if (built) await db.query(`DROP INDEX CONCURRENTLY ${INDEX}`);
    await db.query(`CREATE INDEX CONCURRENTLY ${INDEX} ON devices (updated_at) WHERE NOT active`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ${INDEX}`);
  }
}
