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
});
