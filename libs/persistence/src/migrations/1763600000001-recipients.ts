import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Contact points kept up to date from notify.recipients: profiles, push devices, topic subscriptions. */
export class Recipients1763600000001 implements MigrationInterface {
  name = 'Recipients1763600000001';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE recipients (
        user_id varchar(128) NOT NULL,
        phone varchar(16),
        email varchar(320),
        locale varchar(35),
        timezone varchar(64),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_recipients PRIMARY KEY (user_id)
      )`);
    await db.query(`
      CREATE TABLE devices (
        user_id varchar(128) NOT NULL,
        device_id varchar(128) NOT NULL,
        provider varchar(16) NOT NULL,
        token varchar(4096) NOT NULL,
        locale varchar(35),
        active boolean NOT NULL DEFAULT true,
        deactivated_reason text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_devices PRIMARY KEY (user_id, device_id)
      )`);
    await db.query(`CREATE INDEX ix_devices_token ON devices (provider, md5(token))`);
    await db.query(`
      CREATE TABLE topic_subscriptions (
        topic varchar(128) NOT NULL,
        user_id varchar(128) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_topic_subscriptions PRIMARY KEY (topic, user_id)
      )`);
    await db.query(`CREATE INDEX ix_topic_subscriptions_user ON topic_subscriptions (user_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE topic_subscriptions`);
    await db.query(`DROP TABLE devices`);
    await db.query(`DROP TABLE recipients`);
  }
}
