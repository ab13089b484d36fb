import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { io, type Socket } from 'socket.io-client';
import { Topics, type DeliveryBatch, type DeliveryJob } from '@notify/contracts';
import { ensureTopics, sendInChunks } from '@notify/kafka';
import { createDataSource, ResendStore, runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL, freePort, LocalKafka } from '@notify/testing';
import { AppProcess } from '../../e2e/src/app-process';
import { deliveredSoFar, waitForDelivered } from './delivered';
import { makeHistoryPartitions } from './history';
import { median } from './quantiles';
import { seedPending } from './pending';
import { cpuSnapshot, cpuSplit, describeSplit } from './process-cpu';

/**
 * `npm run bench:resend`: the same pending set — R receivers × K failed websocket deliveries each —
 * re-sent to real acknowledging Socket.IO clients twice in one run: batched per receiver (one
 * `notifications` event per receiver) and per message (one `notification` per message, the old
 * way). Reports frames, bytes on the wire, gateway CPU seconds, wall time and messages per second.
 */
const R = Number(process.env.BENCH_RECEIVERS ?? 2_000);
const K = Number(process.env.BENCH_PENDING ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARM_UP_ROUNDS = Number(process.env.BENCH_WARM_UP_ROUNDS ?? 1);
const SECRET = 'bench-secret-of-enough-length-1234';
const say = (line: string): void => void process.stdout.write(`${line}\n`);

interface Wire {
  frames: number;
  bytes: number;
  messages: number;
}

interface Result extends Wire {
  mode: 'per message' | 'batched';
  round: number;
  seconds: number;
  cpu: number;
}

/** Each figure's median over one mode's rounds (frames and bytes are the same in every round). */
function medianOf(rounds: Result[]): Omit<Result, 'round'> {
  const of = (pick: (r: Result) => number): number => median(rounds.map(pick));
  return { mode: rounds[0]!.mode, seconds: of((r) => r.seconds), cpu: of((r) => r.cpu), frames: of((r) => r.frames), bytes: of((r) => r.bytes), messages: of((r) => r.messages) };
}

async function main(): Promise<void> {
  const broker = process.env.KAFKA_BROKERS ? undefined : await LocalKafka.start();
  const brokers = process.env.KAFKA_BROKERS ?? broker!.brokers;
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  say(`${await makeHistoryPartitions(database.url)} weekly partitions per table (BENCH_HISTORY_DAYS days of history and a week ahead)`);
  const kafka = new Kafka({ clientId: 'bench-resend', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  await ensureTopics(kafka, [Topics.deliver.websocket, Topics.events], { partitions: 3, replicationFactor: 1 });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const db = new Client({ connectionString: database.url });
  await db.connect();
  // The poller's store, opened once as the scheduler's is: opened in each round, its start-up was
  // timed as part of the round.
  const claims = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
  const store = new ResendStore(claims);
  const port = await freePort();
  const gateway = new AppProcess(
    'apps/realtime-gateway/src/main.ts',
    { KAFKA_BROKERS: brokers, DATABASE_URL: database.url, GATEWAY_PORT: String(port), JWT_SECRET: SECRET, LOG_LEVEL: 'error', GATEWAY_GROUP: 'bench-gateway', GATEWAY_CLUSTER_ADAPTER: 'none', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    port,
    // BENCH_GATEWAY_NODE_FLAGS adds node flags to the gateway's, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` for a profile.
    process.env.BENCH_GATEWAY_NODE_FLAGS?.split(' ').filter(Boolean),
  );
  const sockets: Socket[] = [];
  try {
    await gateway.start();
    const wire: Wire = { frames: 0, bytes: 0, messages: 0 };
    for (let r = 0; r < R; r++) sockets.push(await connect(port, `bench-user-${r}`, wire));
    say(`${R} clients connected to the gateway (pid ${gateway.pid})`);

    const results: Result[] = [];
    // BENCH_MODES=batched (or 'per message') runs one of the two, e.g. to profile it alone.
    const modes = (['per message', 'batched'] as const).filter((mode) => (process.env.BENCH_MODES ?? mode).split(',').includes(mode));
    // The two modes take turns, ROUNDS times, in the same gateway process: one garbage collection or
    // burst of another process lands in one round, and the medians leave it out. Warm-up rounds go
    // first and are not counted: in a fresh gateway, broker and clients the first mode run cost up
    // to 1.7 times the CPU per message of its later rounds, everywhere, so whichever mode ran first
    // looked dearer than it is in a platform that has been running.
    for (let round = 1 - WARM_UP_ROUNDS; round <= ROUNDS; round++) {
      const label = round < 1 ? 'warm-up' : `round ${round}`;
      for (const mode of modes) {
        await seedPending(db, `${mode === 'batched' ? 'b' : 'p'}${round}`, R, K);
        Object.assign(wire, { frames: 0, bytes: 0, messages: 0 });
        const cpuBefore = cpuSnapshot();
        const deliveredBefore = await deliveredSoFar(db);
        const started = performance.now();
        const claimSeconds = await resend(store, producer, mode);
        const claimed = (performance.now() - started) / 1000;
        await waitForDelivered(db, deliveredBefore + R * K, 100);
        const seconds = (performance.now() - started) / 1000;
        say(`${label}, ${mode}: claimed and produced in ${claimed.toFixed(2)} s (the poller's part; the claims ${claimSeconds.toFixed(2)} s)`);
        const split = cpuSplit(cpuBefore, cpuSnapshot(), { gateway: [gateway.pid!] });
        const cpu = split.get('gateway')!;
        if (round >= 1) results.push({ mode, round, seconds, cpu, ...wire });
        say(`${label}, ${mode}: ${R * K} messages delivered in ${seconds.toFixed(2)} s; ${wire.frames} frames, ${wire.bytes} bytes, gateway CPU ${cpu.toFixed(2)} s`);
        // The benchmark driver is the resend poller's claims and produces and the clients, together.
        say(`  CPU: ${describeSplit(split, R * K, 'message')}`);
      }
    }
    say('');
    say(`| resend | round | messages | frames | bytes on the wire | gateway CPU s | wall s | messages/s |`);
    say(`| --- | --- | --- | --- | --- | --- | --- | --- |`);
    const row = (r: Omit<Result, 'round'> & { round: number | string }): void =>
      say(`| ${r.mode} | ${r.round} | ${R * K} | ${r.frames} | ${r.bytes} | ${r.cpu.toFixed(2)} | ${r.seconds.toFixed(2)} | ${Math.round((R * K) / r.seconds)} |`);
    for (const r of results) row(r);
    const medians = modes.map((mode) => medianOf(results.filter((r) => r.mode === mode)));
    if (ROUNDS > 1) for (const m of medians) row({ ...m, round: 'median' });
    const single = medians.find((r) => r.mode === 'per message');
    const batched = medians.find((r) => r.mode === 'batched');
    say('');
    if (single && batched) {
      const ratios = (a: Omit<Result, 'mode' | 'round'>, b: Omit<Result, 'mode' | 'round'>): string =>
        `${(a.frames / b.frames).toFixed(1)}× frames, ${(a.bytes / b.bytes).toFixed(1)}× bytes, ${(a.cpu / b.cpu).toFixed(1)}× gateway CPU, ${(a.seconds / b.seconds).toFixed(1)}× wall time`;
      say(`per message / batched, medians of ${ROUNDS} rounds after ${WARM_UP_ROUNDS} of warm-up: ${ratios(single, batched)}`);
      if (ROUNDS > 1) {
        const byRound = Array.from({ length: ROUNDS }, (_, i) => {
          const [a, b] = [single, batched].map((m) => results.find((r) => r.mode === m.mode && r.round === i + 1)!);
          return `${(a!.cpu / b!.cpu).toFixed(1)}×`;
        });
        say(`gateway CPU per message / batched, round by round: ${byRound.join(', ')}`);
      }
    }
    say(`command: BENCH_RECEIVERS=${R} BENCH_PENDING=${K} BENCH_ROUNDS=${ROUNDS} BENCH_WARM_UP_ROUNDS=${WARM_UP_ROUNDS} npm run bench:resend`);
  } finally {
    for (const socket of sockets) socket.disconnect();
    await gateway.stop();
    await producer.disconnect();
    await claims.destroy();
    await db.end();
    await database.drop();
    await broker?.stop();
  }
}

/** A client that acknowledges everything and counts what crosses its websocket, both ways. */
async function connect(port: number, userId: string, wire: Wire): Promise<Socket> {
  const token = jwt.sign({ sub: userId }, SECRET, { expiresIn: '1h' });
  const socket = io(`http://127.0.0.1:${port}/notifications`, { auth: { token }, transports: ['websocket'], reconnection: false });
  socket.on('notification', (_message: unknown, ack: (reply: unknown) => void) => {
    wire.messages += 1;
    ack({ ok: true });
  });
  socket.on('notifications', (messages: unknown[], ack: (reply: unknown) => void) => {
    wire.messages += messages.length;
    ack({ ok: true });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const engine = socket.io.engine;
  engine.on('data', (data: string | Buffer) => {
    wire.frames += 1;
    wire.bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  });
  engine.on('packetCreate', (packet: { type: string; data?: string }) => {
    if (packet.type !== 'message') return;
    wire.frames += 1;
    wire.bytes += Buffer.byteLength(packet.data ?? '') + 1;
  });
  return socket;
}

/** Claims everything due and produces it: one batch record per receiver, or one job per message. Returns the seconds spent in the claims. */
async function resend(store: ResendStore, producer: Producer, mode: 'batched' | 'per message'): Promise<number> {
  let claiming = 0;
  for (;;) {
    const started = performance.now();
    const { batches } = await store.claimDue(new Date(), 60_000, 500);
    claiming += performance.now() - started;
    if (batches.length === 0) return claiming / 1000;
    const messages = batches.flatMap((batch) =>
      mode === 'batched'
        ? [{ key: batch.userId!, value: JSON.stringify({ userId: batch.userId!, batch: batch.jobs } satisfies DeliveryBatch) }]
        : batch.jobs.map((job: DeliveryJob) => ({ key: batch.userId!, value: JSON.stringify(job) })),
    );
    await sendInChunks(producer, [{ topic: Topics.deliver.websocket, messages }]);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
