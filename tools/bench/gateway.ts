import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { Topics } from '@notify/contracts';
import { ensureTopics, sendInChunks } from '@notify/kafka';
import { newId, runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL, freePort, LocalKafka } from '@notify/testing';
import { AppProcess } from '../../e2e/src/app-process';
import { consumerLag } from '../../e2e/src/kafka-admin';
import { deliveredSoFar, waitForDelivered } from './delivered';
import { makeHistoryPartitions } from './history';
import { cpuSnapshot, cpuSplit, describeSplit } from './process-cpu';
import { quantiles } from './quantiles';

/**
 * `npm run bench:gateway`: one realtime gateway process with many acknowledging connections (from
 * several 127.0.0.x source addresses, in client processes of their own): memory per connection,
 * acknowledged deliveries per second, and produce-to-client latency at a steady request rate
 * through the message center.
 */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 19_000);
const PER_CLIENT_PROCESS = 5_000;
const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 40_000);
const RATE = Number(process.env.BENCH_RATE ?? 1_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ADAPTER = process.env.BENCH_CLUSTER_ADAPTER === 'postgres' ? 'postgres' : 'none';
const SECRET = 'bench-secret-of-enough-length-1234';
const CENTER_GROUP = 'bench-center';
const say = (line: string): void => void process.stdout.write(`${line}\n`);

interface Report {
  received: number;
  latencies: number[];
  sinceCreated: number[];
}

async function main(): Promise<void> {
  const broker = process.env.KAFKA_BROKERS ? undefined : await LocalKafka.start();
  const brokers = process.env.KAFKA_BROKERS ?? broker!.brokers;
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  say(`${await makeHistoryPartitions(database.url)} weekly partitions per table (BENCH_HISTORY_DAYS days of history and a week ahead)`);
  const kafka = new Kafka({ clientId: 'bench-gateway', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  await ensureTopics(kafka, [Topics.requests, Topics.deliver.websocket, Topics.events], { partitions: 3, replicationFactor: 1 });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const db = new Client({ connectionString: database.url });
  await db.connect();
  const common = { KAFKA_BROKERS: brokers, DATABASE_URL: database.url, LOG_LEVEL: 'error', KAFKAJS_NO_PARTITIONER_WARNING: '1' };
  const gatewayPort = await freePort();
  const gateway = new AppProcess(
    'apps/realtime-gateway/src/main.ts',
    {
      ...common,
      GATEWAY_PORT: String(gatewayPort),
      JWT_SECRET: SECRET,
      GATEWAY_GROUP: 'bench-gateway',
      // One gateway: no cluster adapter unless BENCH_CLUSTER_ADAPTER=postgres (the default of an
      // installation), whose emits each also publish a NOTIFY through PostgreSQL.
      GATEWAY_CLUSTER_ADAPTER: ADAPTER,
    },
    gatewayPort,
    // BENCH_GATEWAY_NODE_FLAGS adds node flags to the gateway's, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` for a profile.
    process.env.BENCH_GATEWAY_NODE_FLAGS?.split(' ').filter(Boolean),
  );
  const centerPort = await freePort();
  const center = new AppProcess('apps/message-center/src/main.ts', { ...common, MESSAGE_CENTER_PORT: String(centerPort), MESSAGE_CENTER_GROUP: CENTER_GROUP }, centerPort);
  const clients: ChildProcess[] = [];
  try {
    await Promise.all([gateway.start(), center.start()]);
    const idleRss = rssBytes(gateway.pid!);
    const cpuBeforeConnections = cpuSnapshot();
    const started = performance.now();
    for (let first = 0, n = 0; first < CONNECTIONS; first += PER_CLIENT_PROCESS, n++) {
      clients.push(await openClients(first, Math.min(PER_CLIENT_PROCESS, CONNECTIONS - first), gatewayPort, `127.0.0.${2 + n}`));
    }
    const connectSeconds = (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 2_000));
    const perConnection = (rssBytes(gateway.pid!) - idleRss) / CONNECTIONS;
    say(`${CONNECTIONS} connections open in ${connectSeconds.toFixed(1)} s from ${clients.length} client processes; gateway RSS ${(rssBytes(gateway.pid!) / 1e6).toFixed(0)} MB, ${(perConnection / 1024).toFixed(1)} KB per connection`);

    const parts = (): Record<string, number[]> => ({ gateway: [gateway.pid!], 'message center': [center.pid!], clients: clients.map((c) => c.pid!) });
    say(`  CPU while they opened: ${describeSplit(cpuSplit(cpuBeforeConnections, cpuSnapshot(), parts()), CONNECTIONS, 'connection')}`);
    const rows = await seedDeliveries(db);
    let cpuBefore = cpuSnapshot();
    const throughput = await ackedDeliveries(producer, db, rows);
    say(`${DELIVERIES} deliveries acknowledged in ${throughput.toFixed(2)} s: ${Math.round(DELIVERIES / throughput)} per second`);
    say(`  CPU while they were: ${describeSplit(cpuSplit(cpuBefore, cpuSnapshot(), parts()), DELIVERIES, 'delivery')}`);

    // The deliveries above leave the message center one `delivered` event each to follow (fallback);
    // the latency phase starts once it has, so it measures the steady rate and not that backlog.
    await settled(() => consumerLag(kafka, `${CENTER_GROUP}.fallback`, Topics.events));
    await reports(clients);
    cpuBefore = cpuSnapshot();
    const { latencies, sinceCreated } = await latencyAtRate(producer, clients);
    const { at } = quantiles(latencies);
    const pct = (p: number) => at(p / 100);
    const after = quantiles(sinceCreated);
    say(`${RATE} requests/s for ${SECONDS} s through the message center: ${latencies.length} received, latency p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
    say(`  of which from the message center's planning to the client: p50 ${after.at(0.5)} ms, p99 ${after.at(0.99)} ms`);
    say(`  CPU while they were: ${describeSplit(cpuSplit(cpuBefore, cpuSnapshot(), parts()), RATE * SECONDS, 'request')}`);
    say('');
    say(`| connections | KB per connection | acknowledged deliveries/s | p50 ms at ${RATE}/s | p99 ms at ${RATE}/s |`);
    say(`| --- | --- | --- | --- | --- |`);
    say(`| ${CONNECTIONS} | ${(perConnection / 1024).toFixed(1)} | ${Math.round(DELIVERIES / throughput)} | ${pct(50)} | ${pct(99)} |`);
    say(`command: ${ADAPTER === 'postgres' ? 'BENCH_CLUSTER_ADAPTER=postgres ' : ''}BENCH_CONNECTIONS=${CONNECTIONS} BENCH_DELIVERIES=${DELIVERIES} BENCH_RATE=${RATE} npm run bench:gateway`);
  } finally {
    for (const client of clients) client.send({ kind: 'close' });
    await gateway.stop();
    await center.stop();
    await producer.disconnect();
    await db.end();
    await database.drop();
    await broker?.stop();
  }
}

function openClients(first: number, count: number, port: number, address: string): Promise<ChildProcess> {
  const child = fork(resolve(__dirname, 'gateway-clients.ts'), [String(first), String(count), String(port), address, SECRET], { execArgv: ['-r', '@swc-node/register'] });
  return new Promise((done, fail) => {
    child.once('message', () => done(child));
    child.once('exit', (code) => fail(new Error(`client process exited with ${code}`)));
  });
}

function reports(clients: ChildProcess[]): Promise<Report[]> {
  return Promise.all(
    clients.map(
      (client) =>
        new Promise<Report>((done) => {
          client.once('message', (message) => done(message as Report));
          client.send({ kind: 'report' });
        }),
    ),
  );
}

interface SeededDelivery {
  id: string;
  message_id: string;
  user_id: string;
  seq: string;
  created_at: Date;
}

/** Queued websocket deliveries (and their messages) for the connected users, DELIVERIES in all. */
async function seedDeliveries(db: Client): Promise<SeededDelivery[]> {
  const now = new Date();
  const rows = Array.from({ length: DELIVERIES }, (_, n) => ({ id: newId(now), message_id: newId(now), user_id: `bench-user-${n % CONNECTIONS}`, seq: String(n + 1) }));
  await db.query(
    `INSERT INTO messages (id, request_id, type, recipient, contents, created_at)
     SELECT m, 'bench-' || m, 'bench.note', '{}', '{"en":{"title":"t","body":"b"}}', $2 FROM unnest($1::uuid[]) AS m`,
    [rows.map((r) => r.message_id), now],
  );
  await db.query(
    `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at, seq)
     SELECT d, m, u, 'websocket', 'inbox:' || u, 'en', 'queued', $4, s FROM unnest($1::uuid[], $2::uuid[], $3::varchar[], $5::bigint[]) AS x(d, m, u, s)`,
    [rows.map((r) => r.id), rows.map((r) => r.message_id), rows.map((r) => r.user_id), now, rows.map((r) => r.seq)],
  );
  return rows.map((row) => ({ ...row, created_at: now }));
}

/** The seeded deliveries' jobs, produced at once; seconds until every one is acknowledged in PostgreSQL. */
async function ackedDeliveries(producer: Producer, db: Client, rows: SeededDelivery[]): Promise<number> {
  const before = await deliveredSoFar(db);
  const started = performance.now();
  await sendInChunks(producer, [
    {
      topic: Topics.deliver.websocket,
      messages: rows.map((row) => ({
        key: row.user_id,
        value: JSON.stringify({
          deliveryId: row.id, requestId: 'bench', userId: row.user_id, channel: 'websocket', endpoint: 'inbox', attempt: 1,
          expiresAt: null, priority: 'normal', locale: 'en',
          message: { id: row.message_id, seq: Number(row.seq), type: 'bench.note', title: 't', body: 'b', data: {}, createdAt: row.created_at.toISOString() },
        }),
      })),
    },
  ]);
  await waitForDelivered(db, before + rows.length, 50);
  return (performance.now() - started) / 1000;
}

/** Requests to notify.requests at a steady rate for a bounded time; the clients measure each one's age on arrival. */
async function latencyAtRate(producer: Producer, clients: ChildProcess[]): Promise<{ latencies: number[]; sinceCreated: number[] }> {
  const total = RATE * SECONDS;
  const tick = 100;
  const perTick = Math.max(1, Math.round((RATE * tick) / 1000));
  const began = performance.now();
  for (let sent = 0; sent < total; sent += perTick) {
    const messages = Array.from({ length: Math.min(perTick, total - sent) }, (_, i) => {
      const userId = `bench-user-${(sent + i) % CONNECTIONS}`;
      return { key: userId, value: JSON.stringify({ id: `lat-${sent + i}`, type: 'bench.note', to: { userId }, channels: ['websocket'], data: { producedAt: Date.now() }, content: { title: 'latency' } }) };
    });
    await producer.send({ topic: Topics.requests, messages });
    const wait = began + ((sent + perTick) / RATE) * 1000 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const latencies: number[] = [];
  const sinceCreated: number[] = [];
  const deadline = performance.now() + 60_000;
  while (latencies.length < total && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    for (const report of await reports(clients)) {
      latencies.push(...report.latencies);
      sinceCreated.push(...report.sinceCreated);
    }
  }
  return { latencies, sinceCreated };
}

/** Waits, at most a minute, until a consumer group has nothing left to read. */
async function settled(lag: () => Promise<number>): Promise<void> {
  const deadline = performance.now() + 60_000;
  while ((await lag()) > 0) {
    if (performance.now() > deadline) throw new Error('the message center did not catch up with notify.events within a minute');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) * 1024;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
