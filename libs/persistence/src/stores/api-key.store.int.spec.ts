import { createHash } from 'node:crypto';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { ApiKeyStore } from './api-key.store';

describe('ApiKeyStore', () => {
  const database = migratedDatabase();

  it('revokes a key by its name, or by its id written in either case', async () => {
    const store = new ApiKeyStore(database.dataSource());
    const [byName, byId] = [await store.create('ops-by-name', ['query']), await store.create('ops-by-id', ['recipients'])];
    expect((await store.revoke('ops-by-name'))?.id).toBe(byName.id);
    expect((await store.revoke(byId.id.toUpperCase()))?.id).toBe(byId.id);
    expect(await store.findActive(byId.key)).toBeUndefined();
    expect(await store.revoke(byId.id)).toBeUndefined();
  });

  it('refuses, saying why, a second active key of one name and a name shaped like a key id, and issues the name again once revoked', async () => {
    const store = new ApiKeyStore(database.dataSource());
    const first = await store.create('billing', ['query']);
    await expect(store.create('billing', ['query'])).rejects.toThrow('an active API key is named "billing": revoke it first, or choose another name');
    await expect(store.create(first.id.toUpperCase(), ['query'])).rejects.toThrow(/may not have the shape of a key id/);
    await store.revoke('billing');
    expect((await store.create('billing', ['recipients'])).scopes).toEqual(['recipients']);
  });

  it('stores a key as its SHA-256 only, and finds it by the key, not by what is stored', async () => {
    const store = new ApiKeyStore(database.dataSource());
    const issued = await store.create('stored-hashed', ['query']);
    const [row] = (await database.dataSource().query(`SELECT * FROM api_keys WHERE id = $1`, [issued.id])) as { key_hash: string }[];

    expect(JSON.stringify(row)).not.toContain(issued.key);
    expect(row!.key_hash).toBe(createHash('sha256').update(issued.key).digest('hex'));
    expect((await store.findActive(issued.key))?.id).toBe(issued.id);
    // What a leak of the table gives is no key.
    expect(await store.findActive(row!.key_hash)).toBeUndefined();
  });
});
