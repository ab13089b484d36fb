import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { createLogger } from '@notify/observability';
import { createDataSource, DeliveryOutcomeStore, eventsPublished, ResendStore, runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL } from '@notify/testing';
import { makeHistoryPartitions } from './history';
import { seedPending } from './pending';
import { median } from './quantiles';

/**
 * `npm run bench:resend-statements`: the database's part of a batched resend alone, without Kafka
 * or clients — the statements `npm run bench:resend` runs, one after another on an idle database, so
 * a change to them shows above the noise of the whole system. Per round, as the poller and the
 * gateway do: the resend poller's claim of 500 receivers (`ResendStore.claimDue`), the gateway's
 * claim of those deliveries (`claimAttempts`) and the record of their acknowledgements (`record`,
 * which stages their events in the outbox, then `eventsPublished`, which takes them out of it).
 * Each of `BENCH_REPEATS` repeats re-seeds the same pending set (R × K) and drains it; the
 * medians of the repeats are printed.
 */
const R = Number(process.env.BENCH_RECEIVERS ?? 2_000);
const K = Number(process.env.BENCH_PENDING ?? 10);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
/** Deliveries each receiver already had delivered before its pending ones (a long-standing user's history). */
const HISTORY = Number(process.env.BENCH_HISTORY ?? 0);
const STEPS = ['poller claim', 'gateway claim', 'record delivered'] as const;
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const logger = createLogger('bench-resend-statements', 'warn');

async function main(): Promise<void> {
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  const db = new Client({ connectionString: database.url });
  const dataSource = createDataSource({ databaseUrl: database.url, databasePoolSize: 2 });
  try {
    say(`${await makeHistoryPartitions(database.url)} partitions per table; ${R} receivers × ${K} pending messages (and ${HISTORY} delivered each before them), ${REPEATS} repeats`);
    await db.connect();
    await dataSource.initialize();
    const resend = new ResendStore(dataSource);
    const outcomes = new DeliveryOutcomeStore(dataSource);
    const runs: Record<(typeof STEPS)[number], number>[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      await seedPending(db, `r${repeat}`, R, K, HISTORY);
      if (HISTORY > 0) await db.query('ANALYZE messages, deliveries');
      const ms = { 'poller claim': 0, 'gateway claim': 0, 'record delivered': 0 };
      let resent = 0;
      for (;;) {
        let started = performance.now();
        const { batches } = await resend.claimDue(new Date(), 60_000, 500);
        ms['poller claim'] += performance.now() - started;
        if (batches.length === 0) break;
        const ids = batches.flatMap((batch) => batch.jobs.map((job) => job.deliveryId));
        started = performance.now();
        const attempts = await outcomes.claimAttempts(ids, 20_000);
        ms['gateway claim'] += performance.now() - started;
        started = performance.now();
        const recorded = await outcomes.record(ids.map((id) => ({ deliveryId: id, status: 'delivered' as const, error: null, attempt: attempts.get(id) })));
        // As the gateway does once their events are published: they leave the outbox.
        await eventsPublished(recorded, logger);
        ms['record delivered'] += performance.now() - started;
        resent += recorded.length;
      }
      if (resent !== R * K) throw new Error(`repeat ${repeat}: ${resent} of ${R * K} messages recorded delivered`);
      const [{ staged }] = (await db.query<{ staged: number }>('SELECT count(*)::int AS staged FROM event_outbox')).rows as [{ staged: number }];
      if (staged !== 0) throw new Error(`repeat ${repeat}: ${staged} outbox rows left after publishing`);
      runs.push(ms);
    }
    say('');
    say(`| statement | ms per ${R * K} messages (median of ${REPEATS}) | µs per message | all repeats, ms |`);
    say(`| --- | --- | --- | --- |`);
    const total = runs.map((ms) => STEPS.reduce((sum, step) => sum + ms[step], 0));
    for (const [name, values] of [...STEPS.map((step) => [step, runs.map((ms) => ms[step])] as const), ['all three', total] as const]) {
      const m = median(values);
      say(`| ${name} | ${m.toFixed(0)} | ${((m * 1000) / (R * K)).toFixed(1)} | ${values.map((v) => v.toFixed(0)).join(', ')} |`);
    }
    say(`command: BENCH_RECEIVERS=${R} BENCH_PENDING=${K} BENCH_HISTORY=${HISTORY} BENCH_REPEATS=${REPEATS} npm run bench:resend-statements`);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await db.end();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
