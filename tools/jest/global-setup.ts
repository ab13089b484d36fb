import { runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL, LocalKafka } from '@notify/testing';

/**
 * Once per test run: a database of its own (migrated) and, unless KAFKA_BROKERS names a cluster,
 * a fresh local broker. Test files read both from the environment.
 */
export default async function globalSetup(): Promise<void> {
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  // No teardown runs after a failed setup: a broker that does not start must not leave the database.
  // With KAFKA_BROKERS, Kafka's jars are still installed: the codec test runs a Java producer on them.
  const kafka = await (process.env.KAFKA_BROKERS ? LocalKafka.install().then(() => undefined) : LocalKafka.start()).catch(async (error: unknown) => {
    await database.drop().catch(() => undefined);
    throw error;
  });
  process.env.DATABASE_URL = database.url;
  process.env.KAFKA_BROKERS = process.env.KAFKA_BROKERS || kafka!.brokers;
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'warn';
  (globalThis as Record<string, unknown>).__notifyTestTeardown = async () => {
    try {
      await kafka?.stop();
    } finally {
      await database.drop();
    }
  };
}
