import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys of the query API. Only a SHA-256 of each key is kept: keys are 256-bit random strings,
 * so a fast hash is enough to make a leaked table useless, and a lookup stays one index probe.
 * A name is unique among the keys not revoked, so a key can be replaced under the same name.
 */
export class ApiKeys1763600000010 implements MigrationInterface {
  name = 'ApiKeys1763600000010';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE api_keys (
        id uuid NOT NULL,
        name varchar(128) NOT NULL,
        key_hash varchar(64) NOT NULL,
        scopes varchar(16)[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        CONSTRAINT pk_api_keys PRIMARY KEY (id),
        CONSTRAINT uq_api_keys_hash UNIQUE (key_hash)
      )`);
    await db.query(`CREATE UNIQUE INDEX uq_api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE api_keys`);
  }
}
