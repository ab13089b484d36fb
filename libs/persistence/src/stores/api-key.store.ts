import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { generateApiKey, hashApiKey } from '../api-key-secret';
import type { ApiKeyScope } from '../entities/api-key.entity';
import { queryPrepared } from './prepared-statements';
import { queryRows } from './rows';

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  revokedAt: Date | null;
}

export interface IssuedApiKey extends ApiKeyRecord {
  /** The key itself: shown once, never stored. */
  key: string;
}

interface ApiKeyRow {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  created_at: Date;
  revoked_at: Date | null;
}

const ID_SHAPED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UNIQUE_VIOLATION = '23505';

/** Query API keys: issued, looked up by the key presented, revoked. Only hashes are stored. */
export class ApiKeyStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Issues a key; fails, saying why, when a key of that name is still active, or when the name has
   * the shape of a key's id: `revoke` takes either, and could end another key as well.
   */
  async create(name: string, scopes: ApiKeyScope[]): Promise<IssuedApiKey> {
    if (ID_SHAPED.test(name)) throw new Error(`a key's name may not have the shape of a key id (revoke takes either): "${name}"`);
    const key = generateApiKey();
    try {
      const [row] = await queryRows<ApiKeyRow>(
        this.dataSource,
        `INSERT INTO api_keys (id, name, key_hash, scopes) VALUES ($1, $2, $3, $4::varchar[])
         RETURNING id, name, scopes, created_at, revoked_at`,
        [randomUUID(), name, hashApiKey(key), [...new Set(scopes)].sort()],
      );
      return { ...toRecord(row!), key };
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new Error(`an active API key is named "${name}": revoke it first, or choose another name`);
      throw error;
    }
  }

  /** The active key that matches the presented one, if any. */
  async findActive(key: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await queryPrepared<ApiKeyRow>(
      this.dataSource,
      `SELECT id, name, scopes, created_at, revoked_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [hashApiKey(key)],
    );
    return row ? toRecord(row) : undefined;
  }

  /** Revokes the active key with this name or id (a UUID, in either case); returns it, or undefined when there is none. */
  async revoke(nameOrId: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await queryRows<ApiKeyRow>(
      this.dataSource,
      `UPDATE api_keys SET revoked_at = now()
        WHERE revoked_at IS NULL AND (name = $1 OR id::text = lower($1))
        RETURNING id, name, scopes, created_at, revoked_at`,
      [nameOrId],
    );
    return row ? toRecord(row) : undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const rows = await queryRows<ApiKeyRow>(this.dataSource, `SELECT id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, name`, []);
    return rows.map(toRecord);
  }
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return { id: row.id, name: row.name, scopes: row.scopes, createdAt: row.created_at, revokedAt: row.revoked_at };
}
