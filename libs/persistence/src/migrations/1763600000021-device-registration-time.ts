import type { MigrationInterface, QueryRunner } from 'typeorm';
import { QUERY_API_ROLE } from './1763600000012-query-api-role';

/**
 * When each device's registration was made (the Kafka record's time, or when the Recipients call
 * came), so a push token goes to the newest registration whatever order registrations are applied
 * in: a batch replayed after a crash, or one user's partition behind another's, applied an older
 * registration last and gave the token back to the user who had left the phone. Rows from before
 * take the time they were last written.
 *
 * And per token (by provider and md5 of the token) the newest registration made of it, whichever
 * device made it: a late registration is weighed against it, not only against the devices that hold
 * the token now (the newer holder may have signed out, its row deleted, since).
 */
export class DeviceRegistrationTime1763600000021 implements MigrationInterface {
  name = 'DeviceRegistrationTime1763600000021';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE devices ADD COLUMN registered_at timestamptz`);
    await db.query(`UPDATE devices SET registered_at = updated_at`);
    await db.query(`ALTER TABLE devices ALTER COLUMN registered_at SET DEFAULT now(), ALTER COLUMN registered_at SET NOT NULL`);
    await db.query(`
      CREATE TABLE push_tokens (
        provider varchar(16) NOT NULL,
        token_md5 text NOT NULL,
        registered_at timestamptz NOT NULL,
        CONSTRAINT pk_push_tokens PRIMARY KEY (provider, token_md5)
      )`);
    await db.query(`INSERT INTO push_tokens (provider, token_md5, registered_at) SELECT provider, md5(token), max(registered_at) FROM devices GROUP BY 1, 2`);
    // The query API registers devices too.
    await db.query(`GRANT SELECT, INSERT, UPDATE ON push_tokens TO ${QUERY_API_ROLE}`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE push_tokens`);
    await db.query(`ALTER TABLE devices DROP COLUMN registered_at`);
  }
}
