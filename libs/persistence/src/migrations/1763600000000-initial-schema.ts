import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Messages (with their title and body per locale), deliveries and the per-user inbox, partitioned by time on
 * `created_at`: by day when this migration was written, by week now (partitions are made ahead and dropped
 * after the retention period by `maintainPartitions`; a default partition catches anything outside them). Request ids are kept
 * in their own table because a unique key on a partitioned table must include the partition key.
 */
export class InitialSchema1763600000000 implements MigrationInterface {
  name = 'InitialSchema1763600000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE request_keys (
        request_id varchar(128) NOT NULL,
        message_id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT pk_request_keys PRIMARY KEY (request_id)
      )`);
    await db.query(`CREATE INDEX ix_request_keys_created ON request_keys (created_at)`);

    await db.query(`
      CREATE TABLE messages (
        id uuid NOT NULL,
        request_id varchar(128) NOT NULL,
        type varchar(128) NOT NULL,
        recipient jsonb NOT NULL,
        data jsonb NOT NULL DEFAULT '{}',
        contents jsonb NOT NULL DEFAULT '{}',
        locale varchar(35),
        priority varchar(8) NOT NULL DEFAULT 'normal',
        retry jsonb NOT NULL DEFAULT '{}',
        send_at timestamptz,
        expires_at timestamptz,
        created_at timestamptz NOT NULL,
        CONSTRAINT pk_messages PRIMARY KEY (id, created_at)
      ) PARTITION BY RANGE (created_at)`);


    await db.query(`
      CREATE TABLE deliveries (
        id uuid NOT NULL,
        message_id uuid NOT NULL,
        user_id varchar(128),
        channel varchar(16) NOT NULL,
        endpoint varchar(512) NOT NULL,
        locale varchar(35) NOT NULL,
        tier smallint NOT NULL DEFAULT 0,
        seq bigint,
        status varchar(16) NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        next_attempt_at timestamptz,
        expires_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        CONSTRAINT pk_deliveries PRIMARY KEY (id, created_at),
        CONSTRAINT uq_deliveries_target UNIQUE (message_id, channel, endpoint, created_at)
      ) PARTITION BY RANGE (created_at)`);
    await db.query(`CREATE INDEX ix_deliveries_user ON deliveries (user_id, created_at)`);
    await db.query(`CREATE INDEX ix_deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('held', 'failed')`);

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
        locale varchar(35) NOT NULL,
        created_at timestamptz NOT NULL,
        read_at timestamptz,
        CONSTRAINT pk_inbox_entries PRIMARY KEY (user_id, seq, created_at)
      ) PARTITION BY RANGE (created_at)`);

    for (const table of ['messages', 'deliveries', 'inbox_entries']) {
      await db.query(`CREATE TABLE ${table}_default PARTITION OF ${table} DEFAULT`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['inbox_entries', 'inbox_sequences', 'deliveries', 'messages', 'request_keys']) {
      await db.query(`DROP TABLE ${table}`);
    }
  }
}
