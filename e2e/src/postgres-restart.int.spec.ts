import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { Topics } from '@notify/contracts';
import { runMigrations } from '@notify/persistence';
import { eventually, freePort } from '@notify/testing';
import { AppProcess } from './app-process';
import { messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

const ROOT = resolve(__dirname, '../..');

/**
 * A PostgreSQL server of the suite's own (`npm run db:embedded`), so it can be stopped and started
 * again: a real restart cuts every session, refuses new connections while it is down, and comes
 * back on the same data.
 */
class RestartablePostgres {
  private child?: ChildProcess;
  private exited: Promise<number | null> = Promise.resolve(null);
  url = '';

  constructor(
    private readonly dataDir: string,
    private readonly port: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'tools/dev/embedded-postgres.ts'], {
      cwd: ROOT,
      env: { ...process.env, EMBEDDED_POSTGRES_DIR: this.dataDir, EMBEDDED_POSTGRES_PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((done) => child.once('exit', (code) => done(code)));
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(async () => output, (text) => /DATABASE_URL=\S+\n|failed/.test(text), { timeoutMs: 90_000, intervalMs: 100 });
    const url = /DATABASE_URL=(\S+)/.exec(output)?.[1];
    if (!url) throw new Error(`embedded PostgreSQL did not start: ${output}`);
    this.url = url;
  }

  /** A fast shutdown, as `pg_ctl stop` and a service manager's stop do: every session is cut. */
  async stop(): Promise<number | null> {
    this.child?.kill('SIGTERM');
    return this.exited;
  }

  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.url });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }
}

/** The message center in its own process, its PostgreSQL stopped and started again while requests flow. */
describe('message center through a PostgreSQL restart', () => {
  const run = randomBytes(4).toString('hex');
  const group = `e2e-pg-restart-${run}`;
  const kafka = testKafka();
  const dataDir = mkdtempSync(join(tmpdir(), 'notify-pg-restart-'));
  let postgres: RestartablePostgres;
  let producer: Producer;
  let center: AppProcess;

  beforeAll(async () => {
    postgres = new RestartablePostgres(dataDir, await freePort());
    await postgres.start();
    await runMigrations({ databaseUrl: postgres.url });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await startGroupsAtTheEnd(kafka, messageCenterGroups(group));
    const port = await freePort();
    center = new AppProcess(
      'apps/message-center/src/main.ts',
      { DATABASE_URL: postgres.url, MESSAGE_CENTER_GROUP: group, MESSAGE_CENTER_PORT: String(port), LOG_LEVEL: 'error', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
      port,
    );
    await center.start();
  }, 180_000);

  afterAll(async () => {
    await center?.stop();
    await producer?.disconnect();
    await postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores every request exactly once when PostgreSQL restarts in the middle of the flow, without the process restarting', async () => {
    const total = 1_000;
    const ids = Array.from({ length: total }, (_, i) => `pg-restart-${run}-${i}`);
    const request = (id: string, i: number) => ({
      key: `pg-user-${run}-${i % 20}`,
      value: JSON.stringify({ id, type: 'account.note', to: { userId: `pg-user-${run}-${i % 20}` }, channels: ['websocket'], content: { title: id } }),
    });
    const stored = async () => Number((await postgres.query<{ n: string }>(`SELECT count(*) AS n FROM request_keys WHERE request_id LIKE $1`, [`pg-restart-${run}-%`]))[0]!.n);

    // Requests keep coming in waves, before, during and after the restart.
    const producing = (async () => {
      for (let i = 0; i < total; i += 20) {
        await producer.send({ topic: Topics.requests, messages: ids.slice(i, i + 20).map((id, j) => request(id, i + j)) });
        await new Promise((done) => setTimeout(done, 40));
      }
    })();
    await eventually(stored, (n) => n >= 100, { timeoutMs: 60_000, intervalMs: 20 });
    // Cut in the middle: some stored, the rest still to come.
    expect(await stored()).toBeLessThan(total);
    expect(await postgres.stop()).toBe(0);
    // Down for a while: the consumer's batches fail and wait, new connections are refused.
    await new Promise((done) => setTimeout(done, 3_000));
    await postgres.start();
    await producing;

    await eventually(stored, (n) => n === total, { timeoutMs: 120_000 });
    const rows = await postgres.query<{ messages: string; distinct_requests: string; deliveries: string; inbox: string }>(
      `SELECT (SELECT count(*) FROM messages WHERE request_id LIKE $1) AS messages,
              (SELECT count(DISTINCT request_id) FROM messages WHERE request_id LIKE $1) AS distinct_requests,
              (SELECT count(*) FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at WHERE m.request_id LIKE $1) AS deliveries,
              (SELECT count(*) FROM inbox_entries WHERE user_id LIKE $2) AS inbox`,
      [`pg-restart-${run}-%`, `pg-user-${run}-%`],
    );
    expect(rows[0]).toEqual({ messages: String(total), distinct_requests: String(total), deliveries: String(total), inbox: String(total) });
    // Each user's inbox numbers are gap-free: 50 requests each, numbered 1 to 50.
    const numbers = await postgres.query<{ user_id: string; max: string; n: string }>(
      `SELECT user_id, max(seq) AS max, count(DISTINCT seq) AS n FROM inbox_entries WHERE user_id LIKE $1 GROUP BY user_id`,
      [`pg-user-${run}-%`],
    );
    expect(numbers.map(({ max, n }) => [max, n])).toEqual(Array.from({ length: 20 }, () => ['50', '50']));
    // The same process throughout, healthy again.
    expect(center.running).toBe(true);
    expect(await center.health()).toBe(200);
  }, 300_000);
});
