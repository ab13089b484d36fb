import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When each device's registration was made (the Kafka record's time, or when the Recipients call
 * came), so a push token goes to the newest registration whatever order registrations are applied
 * in: a batch replayed after a crash, or one user's partition behind another's, applied an older
 * registration last and gave the token back to the user who had left the phone. Rows from before
 * take the time they were last written.
 */
export class DeviceRegistrationTime1763600000021 implements MigrationInterface {
  name = 'DeviceRegistrationTime1763600000021';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE devices ADD COLUMN registered_at timestamptz`);
    await db.query(`UPDATE devices SET registered_at = updated_at`);
    await db.query(`ALTER TABLE devices ALTER COLUMN registered_at SET DEFAULT now(), ALTER COLUMN registered_at SET NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE devices DROP COLUMN registered_at`);
  }
}
