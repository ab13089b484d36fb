import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a vendor's delivery receipt names a send by (architecture D24): the provider, its id for the
 * message and, for a push that went out in a token list, a digest of the token. Set when a provider
 * that sends receipts accepts a delivery, replaced at its next accepted attempt. Only such
 * deliveries are in the index, so the hot path's writes (browsers, and every send to a vendor
 * without receipts) never touch it.
 */
export class ReceiptKeys1763600000025 implements MigrationInterface {
  name = 'ReceiptKeys1763600000025';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE deliveries ADD COLUMN receipt_key varchar(300)`);
    await db.query(`CREATE INDEX ix_deliveries_receipt_key ON deliveries (receipt_key) WHERE receipt_key IS NOT NULL`);
    // Receipts that came before their send's outcome was recorded (a vendor answers within
    // seconds, a chunk of sends is recorded once its slowest answer is in): applied by that record,
    // forgotten after a day. A token the receipt called gone is kept as its md5, as push_tokens does.
    await db.query(`
      CREATE TABLE waiting_receipts (
        receipt_key varchar(300) NOT NULL,
        status varchar(16) NOT NULL,
        error text,
        delivered_at timestamptz,
        gone_provider varchar(16),
        gone_token_md5 varchar(32),
        gone_reason text,
        seen_at timestamptz,
        received_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_waiting_receipts PRIMARY KEY (receipt_key)
      )`);
    await db.query(`CREATE INDEX ix_waiting_receipts_received_at ON waiting_receipts (received_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE waiting_receipts`);
    await db.query(`DROP INDEX ix_deliveries_receipt_key`);
    await db.query(`ALTER TABLE deliveries DROP COLUMN receipt_key`);
  }
}
