import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Topics } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';
import { runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL, freePort, LocalKafka } from '@notify/testing';

/**
 * `npm run bench:broadcast`: one Kafka batch of requests that each name 1,000 users, with `data` of a
 * given size, handled by a message center process of its own (from consumption to committed offsets);
 * prints the time and the process's peak resident memory (VmHWM). Every job carries its message's
 * `data`, so this is the batch whose memory grows with recipients × data.
 */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20);
const DATA_BYTES = Number(process.env.BENCH_DATA_BYTES ?? 16_000);
const USERS = 1_000;
const GROUP = 'bench-broadcast';
const say = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  // A broker of its own: the message center reads notify.requests from the beginning.
  const broker = await LocalKafka.start();
  const brokers = broker.brokers;
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  const kafka = new Kafka({ clientId: 'bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    const topic = Topics.requests;
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const users = Array.from({ length: USERS }, (_, i) => `broadcast-user-${i}`);
    const data = { note: 'x'.repeat(DATA_BYTES) };
    const messages = Array.from({ length: REQUESTS }, (_, i) => ({ key: 'one-partition', value: JSON.stringify({ id: `broadcast-${i}`, type: 'account.note', to: { userIds: users }, data, content: { title: 't' } }) }));
    await producer.send({ topic, messages });
    await producer.disconnect();

    const port = await freePort();
    const root = resolve(__dirname, '../..');
    const center = spawn(process.execPath, ['-r', '@swc-node/register', resolve(root, 'apps/message-center/src/main.ts')], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers, DATABASE_URL: database.url, MESSAGE_CENTER_PORT: String(port), MESSAGE_CENTER_GROUP: GROUP, KAFKA_TOPIC_PARTITIONS: '1', LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise((done) => center.once('exit', done));
    await admin.connect();
    const started = performance.now();
    const committed = async () => Number((await admin.fetchOffsets({ groupId: GROUP, topics: [topic] }))[0]!.partitions[0]!.offset);
    while ((await committed()) < REQUESTS) {
      if (center.exitCode !== null) throw new Error(`the message center exited with ${center.exitCode}`);
      if (performance.now() - started > 600_000) throw new Error('the batch was not handled within 10 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - started) / 1000;
    const peak = readFileSync(`/proc/${center.pid}/status`, 'utf8').split('\n').find((line) => line.startsWith('VmHWM:'))!;
    center.kill('SIGTERM');
    await exited;
    say(`${REQUESTS} requests × ${USERS} users with ${DATA_BYTES} bytes of data (${REQUESTS * USERS} recipients) handled in ${seconds.toFixed(1)} s, offsets committed; message center peak RSS ${(Number(peak.split(/\s+/)[1]) / 1024).toFixed(0)} MB`);
    say(`command: BENCH_REQUESTS=${REQUESTS} BENCH_DATA_BYTES=${DATA_BYTES} npm run bench:broadcast`);
  } finally {
    await admin.disconnect();
    await database.drop();
    await broker.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
