import { runMigrations } from '@notify/persistence';
import { createTestDatabase, type TestDatabase } from '@notify/testing';

/**
 * For a suite whose apps claim whatever is due in their database (a scheduler, a gateway reading
 * its topic from the start): a database of its own with every migration, made before the suite's
 * tests and dropped after them. In the run's shared database the deliveries earlier suites left due
 * kept such an app busy for longer than the suite's bounds (a claim 18 s after the one before).
 * Call it first in the `describe`, so its database is there for the suite's own `beforeAll`; the
 * suite's `afterAll` drops it last, once nothing of the suite is connected (Jest runs `afterAll`
 * hooks in the order they were declared, so a hook of this helper would drop it first).
 */
export function ownDatabase(): { url: () => string; drop: () => Promise<void> } {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  });
  return { url: () => database!.url, drop: async () => database?.drop() };
}
