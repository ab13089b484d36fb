import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outcome events staged in the transaction that stored their outcomes (architecture D18): each row
 * is one write's events, in the JSON they are published with. The writer deletes its row once every
 * event of it is on notify.events; a row still here `SCHEDULER_OUTBOX_RELAY_AFTER_MS` after it was
 * staged (its writer was killed, or gave up on the broker) is taken by the scheduler's relay until
 * `taken_until` (a lease, so no transaction stays open while it publishes), published and deleted.
 * `json`, not `jsonb`: the text is kept as written and never queried into. Stored uncompressed
 * (`EXTERNAL`): a row lives for milliseconds, and compressing a write's events cost PostgreSQL 8.5–10
 * µs of CPU per event against 5–6 uncompressed (500 events of 300 bytes a row, docs/benchmarks.md).
 */
export class EventOutbox1763600000024 implements MigrationInterface {
  name = 'EventOutbox1763600000024';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE event_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY,
        staged_at timestamptz NOT NULL DEFAULT now(),
        events json NOT NULL,
        taken_until timestamptz,
        CONSTRAINT pk_event_outbox PRIMARY KEY (id)
      )`);
    await db.query(`ALTER TABLE event_outbox ALTER COLUMN events SET STORAGE EXTERNAL`);
    await db.query(`CREATE INDEX ix_event_outbox_staged_at ON event_outbox (staged_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE event_outbox`);
  }
}
