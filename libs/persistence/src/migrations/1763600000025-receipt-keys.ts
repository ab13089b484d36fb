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
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ix_deliveries_receipt_key`);
    await db.query(`ALTER TABLE deliveries DROP COLUMN receipt_key`);
  }
}
