import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { Topics } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';
import { createDataSource } from '@notify/persistence';
import { eventually, freePorts } from '@notify/testing';
import { channelWorkerGroups, messageCenterGroups, startGroupsAtTheEnd, testKafka } from '../../e2e/src/kafka-admin';
import { ownDatabase } from '../../e2e/src/own-database';
import { PLATFORM_APPS } from './platform-apps';

const ROOT = resolve(__dirname, '../..');

async function healthStatus(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status;
  } catch {
    return 0;
  }
}

describe('npm start', () => {
  const database = ownDatabase();
  afterAll(() => database.drop());

  it('brings every app up healthy on its port, and Ctrl-C stops them all', async () => {
    const [grpcPort, ...appPorts] = await freePorts(PLATFORM_APPS.length + 1);
    const ports = Object.fromEntries(PLATFORM_APPS.map((app, i) => [app.portVariable, String(appPorts[i])]));
    // A secret of its own: without one `npm start` makes a development secret in the checkout's
    // .data/, which a developer's running platform signs its tokens with. A database and consumer
    // groups of its own, starting at the topics' ends: new groups read from the start, and the
    // platform replayed every request the run's earlier suites had produced, within this test.
    const run = randomBytes(4).toString('hex');
    const groups = {
      MESSAGE_CENTER_GROUP: `start-mc-${run}`,
      GATEWAY_GROUP: `start-gw-${run}`,
      CHANNEL_WORKER_PUSH_GROUP: `start-push-${run}`,
      CHANNEL_WORKER_SMS_GROUP: `start-sms-${run}`,
      CHANNEL_WORKER_EMAIL_GROUP: `start-email-${run}`,
    };
    const kafka = testKafka();
    // One request produced before the start, history the platform must not replay, and one after,
    // on the same partition (one key), which it must store.
    const [earlier, later] = [`start-earlier-${run}`, `start-later-${run}`];
    await ensureTopics(kafka, [Topics.requests], { partitions: 3, replicationFactor: 1 });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const request = (id: string) => ({ topic: Topics.requests, messages: [{ key: 'u-start', value: JSON.stringify({ id, type: 'x', to: { userId: 'u-start' } }) }] });
    await producer.send(request(earlier));
    await startGroupsAtTheEnd(kafka, [
      ...messageCenterGroups(groups.MESSAGE_CENTER_GROUP),
      { groupId: groups.GATEWAY_GROUP, topic: Topics.deliver.websocket },
      ...channelWorkerGroups(groups),
    ]);
    const env = {
      ...process.env,
      ...ports,
      ...groups,
      DATABASE_URL: database.url(),
      QUERY_API_GRPC_PORT: String(grpcPort),
      JWT_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'warn',
    };
    // Its own process group, so the signal reaches npm and everything under it, as Ctrl-C in a terminal does.
    const child = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      // Longer than npm start gives its apps to become healthy (120 s), as a busy machine may need.
      await eventually(async () => output, (text) => text.includes('[start] ready') || text.includes('[start] failed'), { timeoutMs: 125_000, intervalMs: 250 });
      expect(output).toContain('[start] ready');
      for (const app of PLATFORM_APPS) {
        expect({ app: app.name, status: await healthStatus(Number(ports[app.portVariable])) }).toEqual({ app: app.name, status: 200 });
      }
      await producer.send(request(later));
      await eventually(async () => storedRequests(), (stored) => stored.includes(later), { timeoutMs: 60_000 });
      expect(await storedRequests()).toEqual([later]);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      await producer.disconnect();
    }
    await exited;
    expect(output).toContain('[start] stopped');
    for (const app of PLATFORM_APPS) {
      expect({ app: app.name, status: await healthStatus(Number(ports[app.portVariable])) }).toEqual({ app: app.name, status: 0 });
    }
  }, 300_000);

  /** The ids of the requests stored in the test's database. */
  async function storedRequests(): Promise<string[]> {
    const db = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    try {
      return (await db.query<{ request_id: string }[]>('SELECT request_id FROM messages ORDER BY request_id')).map((row) => row.request_id);
    } finally {
      await db.destroy();
    }
  }
});
