import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { createDataSource, newId, runMigrations, storeInOneStatement, storeInSteps, type PlannedMessage, type Stored } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL } from '@notify/testing';
import { plannedDelivery, plannedMessage } from '../../libs/persistence/src/stores/planned.spec-helper';
import { makeHistoryPartitions } from './history';
import { median } from './quantiles';

/**
 * `npm run bench:ingest-statements`: the message center's write of one batch alone, without Kafka —
 * the batch in one statement (`storeInOneStatement`, what `IngestStore` runs) against the same batch
 * stored in steps (`storeInSteps`, what it runs for a batch too large for one statement: a
 * transaction that claims the requests and stores their messages, one per slice of 20,000 users
 * storing their inbox entries and deliveries, a last one that ends the requests; here one slice).
 * The batches are in-app notes, as at 1,000 requests/s in
 * `npm run bench:gateway`: each request is a message, an inbox entry with its number and a
 * websocket delivery, for users drawn from `BENCH_USERS`. For each batch size the two ways
 * alternate, batch by batch, `BENCH_BATCHES` batches each; medians and the ratio are printed.
 */
const SIZES = (process.env.BENCH_BATCH_SIZES ?? '33,500').split(',').map(Number);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 200);
const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const say = (line: string): void => void process.stdout.write(`${line}\n`);

const WAYS: Record<string, (dataSource: ReturnType<typeof createDataSource>, batch: PlannedMessage[]) => Promise<Stored>> = {
  'one statement': storeInOneStatement,
  'in steps': (dataSource, batch) => storeInSteps(dataSource, batch),
};

function batchOf(size: number, serial: { next: number }): PlannedMessage[] {
  const createdAt = new Date();
  return Array.from({ length: size }, () => {
    const userId = `user-${Math.floor(Math.random() * USERS)}`;
    const delivery = plannedDelivery(createdAt, { id: newId(createdAt), userId, endpoint: `inbox:${userId}` });
    return plannedMessage(`bench-${serial.next++}`, createdAt, [delivery], { recipient: { userId }, contents: [{ locale: 'en', title: 'A note', body: 'Your order has shipped.' }] });
  });
}

async function main(): Promise<void> {
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  const dataSource = createDataSource({ databaseUrl: database.url, databasePoolSize: 2 });
  try {
    say(`${await makeHistoryPartitions(database.url)} partitions per table; ${BATCHES} batches of each size each way, ${USERS} users`);
    await dataSource.initialize();
    const serial = { next: 0 };
    say('');
    say('| requests per batch | way | ms per batch (median) | p90 ms | µs per request |');
    say('| --- | --- | --- | --- | --- |');
    const ratios: string[] = [];
    for (const size of SIZES) {
      const ms: Record<string, number[]> = Object.fromEntries(Object.keys(WAYS).map((way) => [way, []]));
      // A warm-up batch each way, not counted: connections, plans and caches.
      for (const way of Object.values(WAYS)) await way(dataSource, batchOf(size, serial));
      for (let i = 0; i < BATCHES; i++) {
        const order = i % 2 === 0 ? Object.entries(WAYS) : Object.entries(WAYS).reverse();
        for (const [name, way] of order) {
          const batch = batchOf(size, serial);
          const started = performance.now();
          const { fresh } = await way(dataSource, batch);
          ms[name]!.push(performance.now() - started);
          if (fresh.length !== size) throw new Error(`${name}: ${fresh.length} of ${size} requests stored`);
        }
      }
      for (const [name, values] of Object.entries(ms)) {
        const sorted = [...values].sort((a, b) => a - b);
        const m = median(values);
        say(`| ${size} | ${name} | ${m.toFixed(2)} | ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(2)} | ${((m * 1000) / size).toFixed(1)} |`);
      }
      const [one, steps] = Object.values(ms).map(median) as [number, number];
      ratios.push(`${size} requests: in steps takes ${(steps / one).toFixed(2)}× as long as one statement`);
    }
    const [{ stored }] = await dataSource.query(`SELECT count(*)::int AS stored FROM messages`);
    const expected = SIZES.reduce((sum, size) => sum + size * (BATCHES + 1) * 2, 0);
    if (stored !== expected) throw new Error(`${stored} messages stored, ${expected} expected`);
    say('');
    for (const line of ratios) say(line);
    say(`command: BENCH_BATCH_SIZES=${SIZES.join(',')} BENCH_BATCHES=${BATCHES} BENCH_USERS=${USERS} npm run bench:ingest-statements`);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
