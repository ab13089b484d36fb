import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Where the Socket.IO PostgreSQL adapter puts payloads too large for NOTIFY, so gateways can form a cluster. */
export class SocketIoAttachments1763600000002 implements MigrationInterface {
  name = 'SocketIoAttachments1763600000002';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE socket_io_attachments (
        id bigserial UNIQUE,
        created_at timestamptz DEFAULT now(),
        payload bytea
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE socket_io_attachments`);
  }
}
