import { runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL, LocalKafka } from '@notify/testing';

/**
 * Once per test run: a database of its own (migrated) and, unless KAFKA_BROKERS names a cluster,
 * a fresh local broker. Test files read both from the environment.
 */
export default async function globalSetup(): Promise<void> {
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  const kafka = process.env.KAFKA_BROKERS ? undefined : await LocalKafka.start();
  process.env.DATABASE_URL = database.url;
  process.env.KAFKA_BROKERS = process.env.KAFKA_BROKERS || kafka!.brokers;
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'warn';
  (globalThis as Record<string, unknown>).__notifyTestTeardown = async () => {
    await kafka?.stop();
    await database.drop();
  };
}
