import type { ApiKeyRecord } from '@notify/persistence';
import { ApiKeyAuthenticator } from './api-key-authenticator';

/** A key table in memory, counting lookups, with revocation. */
class KeyTable {
  lookups = 0;
  readonly keys = new Map<string, ApiKeyRecord>();

  async findActive(key: string): Promise<ApiKeyRecord | undefined> {
    this.lookups += 1;
    const record = this.keys.get(key);
    return record && !record.revokedAt ? record : undefined;
  }
}

describe('ApiKeyAuthenticator', () => {
  const record = (name: string, scopes: ApiKeyRecord['scopes']): ApiKeyRecord => ({ id: name, name, scopes, createdAt: new Date(0), revokedAt: null });
  let table: KeyTable;
  let now: number;

  beforeEach(() => {
    table = new KeyTable();
    table.keys.set('nq_reporting', record('reporting', ['query']));
    now = 1_000_000;
  });

  it('accepts the bootstrap key with every scope without a lookup', async () => {
    const keys = new ApiKeyAuthenticator(table, { bootstrapApiKey: 'bootstrap-key-0123456789', apiKeyCacheMs: 5000 });
    expect(await keys.authenticate('bootstrap-key-0123456789')).toEqual({ keyName: 'bootstrap', scopes: ['query', 'recipients'] });
    expect(table.lookups).toBe(0);
  });

  it('accepts no bootstrap key when none is configured', async () => {
    const keys = new ApiKeyAuthenticator(table, { apiKeyCacheMs: 5000 });
    expect(await keys.authenticate('bootstrap-key-0123456789')).toBeUndefined();
  });

  it('remembers an accepted key for the configured time, then looks it up again and sees its revocation', async () => {
    const keys = new ApiKeyAuthenticator(table, { apiKeyCacheMs: 5000 }, () => now);
    expect(await keys.authenticate('nq_reporting')).toEqual({ keyName: 'reporting', scopes: ['query'] });
    table.keys.get('nq_reporting')!.revokedAt = new Date();
    now += 4999;
    expect(await keys.authenticate('nq_reporting')).toEqual({ keyName: 'reporting', scopes: ['query'] });
    expect(table.lookups).toBe(1);
    now += 1;
    expect(await keys.authenticate('nq_reporting')).toBeUndefined();
    expect(table.lookups).toBe(2);
  });

  it('never remembers an unknown key, and remembers nothing when the time is 0', async () => {
    const keys = new ApiKeyAuthenticator(table, { apiKeyCacheMs: 0 }, () => now);
    expect(await keys.authenticate('nq_unknown')).toBeUndefined();
    expect(await keys.authenticate('nq_unknown')).toBeUndefined();
    await keys.authenticate('nq_reporting');
    await keys.authenticate('nq_reporting');
    expect(table.lookups).toBe(4);
  });
});
