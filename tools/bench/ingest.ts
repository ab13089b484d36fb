import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Client } from 'pg';
import { loadMessageCenterConfig } from '@notify/config';
import { Topics } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';
import { startMessageCenter } from '@notify/message-center';
import { createLogger } from '@notify/observability';
import { runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL, LocalKafka } from '@notify/testing';

/**
 * `npm run bench:ingest`: requests per second from Kafka to durable rows, for the message center
 * and, over the same pre-filled topic in the same run, for a bare kafkajs batch consumer that
 * writes each raw value with one multi-row insert per batch and nothing else.
 */
const N = Number(process.env.BENCH_REQUESTS ?? 200_000);
const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 3);
const MESSAGE_CENTER_GROUP = 'bench-message-center';
const say = (line: string): void => void process.stdout.write(`${line}\n`);
let fatal: Error | undefined;

async function main(): Promise<void> {
  const broker = process.env.KAFKA_BROKERS ? undefined : await LocalKafka.start();
  const brokers = process.env.KAFKA_BROKERS ?? broker!.brokers;
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  const kafka = new Kafka({ clientId: 'bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const db = new Client({ connectionString: database.url });
  await db.connect();
  try {
    await ensureTopics(kafka, [Topics.requests], { partitions: PARTITIONS, replicationFactor: 1 });
    const produceSeconds = await fill(kafka);
    say(`filled ${Topics.requests} with ${N} requests for ${USERS} users over ${PARTITIONS} partitions in ${produceSeconds.toFixed(1)} s`);

    const admin = kafka.admin();
    await admin.connect();
    // Progress is read from the committed offsets, which each consumer commits only after its rows
    // have committed: polling count(*) would take PostgreSQL time from the consumer measured.
    const committed = (groupId: string) => async () => {
      const [topic] = await admin.fetchOffsets({ groupId, topics: [Topics.requests] });
      return topic!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    };
    const baseline = await measure('baseline', committed('bench-baseline'), async () => runBaseline(kafka, db, database.url));
    await expectRows(db, 'bench_raw');
    const platform = await measure('message center', committed(MESSAGE_CENTER_GROUP), async () => {
      const env = { ...process.env, KAFKA_BROKERS: brokers, DATABASE_URL: database.url, MESSAGE_CENTER_PORT: '0', KAFKA_TOPIC_PARTITIONS: String(PARTITIONS), MESSAGE_CENTER_GROUP };
      const app = await startMessageCenter(loadMessageCenterConfig(env), createLogger('bench', 'error'), { onFatal: (e) => void (fatal = e) });
      return () => app.close();
    });
    await expectRows(db, 'request_keys');
    await admin.disconnect();

    say('');
    say(`| consumer | requests | seconds from start | requests/s from start | requests/s from the first committed batch |`);
    say(`| --- | --- | --- | --- | --- |`);
    for (const r of [baseline, platform]) {
      say(`| ${r.name} | ${N} | ${r.seconds.toFixed(2)} | ${Math.round(N / r.seconds)} | ${Math.round(N / r.steadySeconds)} |`);
    }
    say('');
    say(`message center / baseline throughput: ${(baseline.seconds / platform.seconds).toFixed(2)} from start, ${(baseline.steadySeconds / platform.steadySeconds).toFixed(2)} from the first committed batch`);
    say(`command: BENCH_REQUESTS=${N} npm run bench:ingest`);
  } finally {
    await db.end();
    await database.drop();
    await broker?.stop();
  }
}

interface Measured {
  name: string;
  seconds: number;
  steadySeconds: number;
}

async function fill(kafka: Kafka): Promise<number> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const started = performance.now();
  const chunk = 2_000;
  for (let i = 0; i < N; i += chunk) {
    const messages = Array.from({ length: Math.min(chunk, N - i) }, (_, j) => {
      const n = i + j;
      const userId = `bench-user-${n % USERS}`;
      return {
        key: userId,
        value: JSON.stringify({
          id: `bench-${n}`,
          type: 'account.note',
          to: { userId },
          channels: ['websocket'],
          data: { n },
          content: { title: `Note ${n}`, body: 'Your statement is ready' },
        }),
      };
    });
    await producer.send({ topic: Topics.requests, messages });
  }
  await producer.disconnect();
  return (performance.now() - started) / 1000;
}

/** The floor: batch consume, one multi-row insert of the raw values, commit. */
async function runBaseline(kafka: Kafka, db: Client, url: string): Promise<() => Promise<void>> {
  await db.query('CREATE TABLE bench_raw (value jsonb NOT NULL)');
  const writer = new Client({ connectionString: url });
  await writer.connect();
  const consumer = kafka.consumer({ groupId: 'bench-baseline', maxBytesPerPartition: 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topics: [Topics.requests], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (batch.messages.length === 0) return;
      await writer.query('INSERT INTO bench_raw (value) SELECT v::jsonb FROM unnest($1::text[]) AS v', [batch.messages.map((m) => m.value!.toString())]);
      const last = batch.messages[batch.messages.length - 1]!.offset;
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) }]);
      resolveOffset(last);
      await heartbeat();
    },
  });
  return async () => {
    await consumer.disconnect();
    await writer.end();
  };
}

async function measure(name: string, count: () => Promise<number>, start: () => Promise<() => Promise<void>>): Promise<Measured> {
  const began = performance.now();
  const stop = await start();
  const deadline = Date.now() + 30 * 60_000;
  let done = 0;
  let firstCommitted = 0;
  while (done < N) {
    if (fatal) throw new Error(`${name} stopped: ${fatal.message}`);
    if (Date.now() > deadline) throw new Error(`${name}: only ${done} of ${N} after 30 minutes`);
    await new Promise((r) => setTimeout(r, 100));
    done = await count();
    if (done > 0 && firstCommitted === 0) firstCommitted = performance.now();
  }
  const seconds = (performance.now() - began) / 1000;
  const steadySeconds = (performance.now() - firstCommitted) / 1000;
  await stop();
  say(`${name}: ${N} requests durable in ${seconds.toFixed(2)} s from start (${Math.round(N / seconds)}/s), ${steadySeconds.toFixed(2)} s from the first committed batch (${Math.round(N / steadySeconds)}/s)`);
  return { name, seconds, steadySeconds };
}

async function expectRows(db: Client, table: string): Promise<void> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  if (Number(rows[0]!.n) !== N) throw new Error(`${table} holds ${rows[0]!.n} rows after all ${N} offsets were committed`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
