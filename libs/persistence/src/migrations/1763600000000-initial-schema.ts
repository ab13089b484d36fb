import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1763600000000 implements MigrationInterface {
  name = 'InitialSchema1763600000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE messages (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        request_id varchar(128) NOT NULL,
        type varchar(128) NOT NULL,
        recipient jsonb NOT NULL,
        title text NOT NULL DEFAULT '',
        body text NOT NULL DEFAULT '',
        data jsonb NOT NULL DEFAULT '{}',
        locale varchar(35),
        priority varchar(8) NOT NULL DEFAULT 'normal',
        send_at timestamptz,
        expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_messages PRIMARY KEY (id),
        CONSTRAINT uq_messages_request_id UNIQUE (request_id)
      )`);
    await db.query(`
      CREATE TABLE deliveries (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        message_id uuid NOT NULL,
        user_id varchar(128),
        channel varchar(16) NOT NULL,
        endpoint varchar(512) NOT NULL,
        status varchar(16) NOT NULL DEFAULT 'queued',
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        next_attempt_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        CONSTRAINT pk_deliveries PRIMARY KEY (id),
        CONSTRAINT uq_deliveries_target UNIQUE (message_id, channel, endpoint)
      )`);
    await db.query(`CREATE INDEX ix_deliveries_user ON deliveries (user_id, created_at)`);
    await db.query(`CREATE INDEX ix_deliveries_due ON deliveries (next_attempt_at) WHERE status = 'failed'`);
    await db.query(`
      CREATE TABLE inbox_sequences (
        user_id varchar(128) NOT NULL,
        last_seq bigint NOT NULL,
        CONSTRAINT pk_inbox_sequences PRIMARY KEY (user_id)
      )`);
    await db.query(`
      CREATE TABLE inbox_entries (
        user_id varchar(128) NOT NULL,
        seq bigint NOT NULL,
        message_id uuid NOT NULL,
        read_at timestamptz,
        CONSTRAINT pk_inbox_entries PRIMARY KEY (user_id, seq),
        CONSTRAINT uq_inbox_message UNIQUE (user_id, message_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE inbox_entries`);
    await db.query(`DROP TABLE inbox_sequences`);
    await db.query(`DROP TABLE deliveries`);
    await db.query(`DROP TABLE messages`);
  }
}
