import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, credentials, Metadata, type MethodDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Client as PgClient } from 'pg';
import { NOTIFY_PROTO_DIR, NOTIFY_PROTO_FILES } from '@notify/client';
import { ApiKeyStore, createDataSource, maintainPartitions, runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL, freePort } from '@notify/testing';

/**
 * `npm run bench:query`: fills a database of its own with MESSAGES messages (and their deliveries)
 * over USERS users and DAYS daily partitions, starts the query API as its own process, then calls
 * ListMessages and GetMessage over gRPC at a fixed RATE (open loop: a call is due every 1/RATE s
 * whether or not earlier ones have answered, and its latency counts from when it was due), and
 * once more as fast as CONCURRENCY calls in flight allow. Also times the counter triggers on
 * 1,000-row writes. The database is dropped at the end.
 */
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const DAYS = Number(process.env.BENCH_DAYS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 8);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const PAGE_SIZE = Number(process.env.BENCH_PAGE_SIZE ?? 20);
const CHUNK = 100_000;
const DAY_MS = 86_400_000;
const ROOT = resolve(__dirname, '../..');
const say = (line: string): void => void process.stdout.write(`${line}\n`);

type Call = (client: Client) => Promise<unknown>;

interface Measured {
  name: string;
  mode: string;
  calls: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU milliseconds per call of the clients (this process), the query API process and its PostgreSQL backends. */
  cpu: { clients: number; api: number; postgres: number };
}

/** CPU time so far, in ms, of this process, the API process and each of the API's database backends (Linux /proc). */
interface CpuReading {
  clients: number;
  api: number;
  backends: Map<number, number>;
}
interface CpuClock {
  read(): Promise<CpuReading>;
}

async function main(): Promise<void> {
  const giveUp = setTimeout(() => {
    process.stderr.write('bench: gave up after 30 minutes\n');
    process.exit(1);
  }, 30 * 60_000);
  giveUp.unref();
  const database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_TEST_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
  const db = new PgClient({ connectionString: database.url });
  await db.connect();
  let api: ChildProcess | undefined;
  try {
    const end = Date.now() - 60_000;
    await makePartitions(database.url, end);
    const fillSeconds = await fill(db, end - DAYS * DAY_MS, end);
    say(`filled ${MESSAGES} messages (${await count(db, 'deliveries')} deliveries) for ${USERS} users over ${DAYS} days in ${fillSeconds.toFixed(1)} s, counters kept by the triggers`);

    const triggers = await timeTriggers(db);

    const key = await issueKey(database.url);
    const ports = { grpc: await freePort(), http: await freePort() };
    api = await startApi(database.url, ports);
    const ids = (await db.query<{ id: string }>(`SELECT id FROM messages TABLESAMPLE SYSTEM (1) LIMIT 5000`)).rows.map((r) => r.id);
    const clients = Array.from({ length: CHANNELS }, () => new Client(`127.0.0.1:${ports.grpc}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
    const metadata = new Metadata();
    metadata.set('x-api-key', key);
    const methods = loadMethods();
    const checked = { replies: 0, decoded: 0 };
    /**
     * A load generator, not an application: replies arrive as bytes and every 50th is decoded and
     * checked, so the clients' decoding does not take the cores the API and PostgreSQL are measured on.
     */
    const invoke = (client: Client, method: 'ListMessages' | 'GetMessage', request: Record<string, unknown>) => {
      const { path, requestSerialize, responseDeserialize } = methods[method];
      return new Promise<void>((done, fail) =>
        client.makeUnaryRequest(path, requestSerialize, (bytes: Buffer) => bytes, request, metadata, { deadline: new Date(Date.now() + 10_000) }, (error, reply) => {
          if (error || !reply) return fail(error ?? new Error('no reply'));
          if (checked.replies++ % 50 === 0) {
            checked.decoded += 1;
            const wrong = wrongReply(method, request, responseDeserialize(reply) as Record<string, unknown>);
            if (wrong) return fail(new Error(wrong));
          }
          done();
        }),
      );
    };
    const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;
    const listMessages: Call = (client) => invoke(client, 'ListMessages', { userId: `bench-user-${Math.floor(Math.random() * USERS)}`, pageSize: PAGE_SIZE });
    const getMessage: Call = (client) => invoke(client, 'GetMessage', { id: pick(ids) });

    const loadBefore = loadavg()[0]!;
    const cpu = cpuClock(db, api.pid!);
    const results: Measured[] = [];
    for (const [name, call] of [[`ListMessages (page of ${PAGE_SIZE})`, listMessages], ['GetMessage', getMessage]] as const) {
      await openLoop(clients, call, Math.min(RATE, 200), 3);
      results.push({ name, ...(await withCpu(cpu, () => openLoop(clients, call, RATE, SECONDS))) });
      results.push({ name, ...(await withCpu(cpu, () => closedLoop(clients, call, CONCURRENCY, Math.min(SECONDS, 10)))) });
    }
    for (const client of clients) client.close();
    say(`${checked.decoded} of ${checked.replies} replies decoded and checked`);

    say('');
    say(`${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; load average ${loadBefore.toFixed(2)} before the calls, ${loadavg()[0]!.toFixed(2)} after`);
    say('| call | load | calls | errors | calls/s | p50 ms | p99 ms | max ms | CPU ms per call: clients / API / PostgreSQL |');
    say('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const perCall = [r.cpu.clients, r.cpu.api, r.cpu.postgres].map((ms) => ms.toFixed(2)).join(' / ');
      say(`| ${r.name} | ${r.mode} | ${r.calls} | ${r.errors} | ${Math.round(r.perSecond)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ${perCall} |`);
    }
    say('');
    say('counter triggers, median of 9 statements of 1,000 rows each (ms):');
    say('| statement | triggers on | triggers off |');
    say('| --- | --- | --- |');
    for (const t of triggers) say(`| ${t.statement} | ${t.on.toFixed(2)} | ${t.off.toFixed(2)} |`);
    say('');
    say(
      `command: BENCH_MESSAGES=${MESSAGES} BENCH_USERS=${USERS} BENCH_RATE=${RATE} BENCH_SECONDS=${SECONDS} BENCH_CHANNELS=${CHANNELS} BENCH_CONCURRENCY=${CONCURRENCY} BENCH_PAGE_SIZE=${PAGE_SIZE} npm run bench:query`,
    );
  } finally {
    api?.kill('SIGTERM');
    await db.end();
    await database.drop();
  }
}

/** Daily partitions for the whole period, as the message center's maintenance would have made them. */
async function makePartitions(url: string, end: number): Promise<void> {
  const dataSource = await createDataSource({ databaseUrl: url, databasePoolSize: 1 }).initialize();
  try {
    await maintainPartitions(dataSource, { now: new Date(end - (DAYS - 1) * DAY_MS), daysAhead: DAYS + 1, retentionDays: 3650 });
  } finally {
    await dataSource.destroy();
  }
}

/**
 * Multi-row INSERT … SELECT generate_series, in chunks: request keys, messages (five types, user
 * `i % USERS`, times spread evenly) and deliveries — a websocket one for every message and a push one
 * for every fifth, in the statuses a day of traffic leaves (mostly delivered, some read, clicked,
 * failed, dead). Ids are UUIDv7 of the message's time, as the platform makes them.
 */
async function fill(db: PgClient, start: number, end: number): Promise<number> {
  const began = performance.now();
  const step = (end - start) / MESSAGES;
  const series = `SELECT i, (${start} + floor(i * ${step}))::bigint AS ms FROM generate_series($1::int, $2::int) AS i`;
  const uuid = (salt: string) => `(lpad(to_hex(s.ms), 12, '0') || '7' || substr(md5(s.i || '${salt}'), 1, 3) || '8' || substr(md5(s.i || '${salt}'), 4, 15))::uuid`;
  const at = `timestamptz 'epoch' + s.ms * interval '1 millisecond'`;
  for (let from = 0; from < MESSAGES; from += CHUNK) {
    const range = [from, Math.min(from + CHUNK, MESSAGES) - 1];
    await db.query(`INSERT INTO request_keys (request_id, message_id, created_at) SELECT 'bench-' || s.i, ${uuid('m')}, ${at} FROM (${series}) AS s`, range);
    await db.query(
      `INSERT INTO messages (id, request_id, type, recipient, data, contents, locale, priority, created_at)
       SELECT ${uuid('m')}, 'bench-' || s.i, 'bench.' || (s.i % 5), jsonb_build_object('userId', 'bench-user-' || (s.i % ${USERS})),
              jsonb_build_object('n', s.i), jsonb_build_object('en', jsonb_build_object('title', 'Note ' || s.i, 'body', 'Your statement is ready')),
              'en', 'normal', ${at}
         FROM (${series}) AS s`,
      range,
    );
    await db.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, last_error, created_at, delivered_at)
       SELECT ${uuid('w')}, ${uuid('m')}, 'bench-user-' || (s.i % ${USERS}), 'websocket', 'inbox:bench-user-' || (s.i % ${USERS}), 'en',
              CASE WHEN s.i % 20 < 14 THEN 'delivered' WHEN s.i % 20 < 17 THEN 'read' WHEN s.i % 20 = 17 THEN 'clicked' WHEN s.i % 20 = 18 THEN 'failed' ELSE 'dead' END,
              CASE WHEN s.i % 20 = 19 THEN 5 ELSE 1 END, CASE WHEN s.i % 20 >= 18 THEN 'ack_timeout' END, ${at}, ${at}
         FROM (${series}) AS s
       UNION ALL
       SELECT ${uuid('p')}, ${uuid('m')}, 'bench-user-' || (s.i % ${USERS}), 'push', 'fcm:bench-user-' || (s.i % ${USERS}) || '/phone', 'en',
              CASE WHEN s.i % 10 = 0 THEN 'clicked' ELSE 'delivered' END, 1, NULL, ${at}, ${at}
         FROM (${series}) AS s WHERE s.i % 5 = 0`,
      range,
    );
    process.stdout.write(`  ${range[1]! + 1} messages\r`);
  }
  await db.query('ANALYZE');
  return (performance.now() - began) / 1000;
}

interface TriggerTiming {
  statement: string;
  on: number;
  off: number;
}

/**
 * The cost of the counter triggers on the writes the platform makes in batches: 1,000 messages
 * inserted, their 1,000 queued deliveries inserted, claimed (queued → sent) and recorded
 * (sent → delivered), each a multi-row statement, alternately with the triggers enabled and disabled.
 */
async function timeTriggers(db: PgClient): Promise<TriggerTiming[]> {
  const statements = ['insert 1,000 messages', 'insert 1,000 queued deliveries', 'claim 1,000 (queued → sent)', 'record 1,000 (sent → delivered)'];
  const times = new Map(statements.map((s) => [s, { on: [] as number[], off: [] as number[] }]));
  const timed = async (statement: string, mode: 'on' | 'off', sql: string, params: unknown[]) => {
    const began = performance.now();
    await db.query(sql, params);
    times.get(statement)![mode].push(performance.now() - began);
  };
  for (let round = 0; round < 18; round++) {
    const mode = round % 2 === 0 ? 'on' : 'off';
    const action = mode === 'on' ? 'ENABLE' : 'DISABLE';
    await db.query(`ALTER TABLE messages ${action} TRIGGER messages_count_requested`);
    for (const name of ['deliveries_count_inserted', 'deliveries_count_updated']) await db.query(`ALTER TABLE deliveries ${action} TRIGGER ${name}`);
    const base = MESSAGES + round * 1000;
    const at = Date.now();
    const series = `SELECT i, ${at}::bigint AS ms FROM generate_series(${base}, ${base + 999}) AS i`;
    const id = (salt: string) => `(lpad(to_hex(s.ms), 12, '0') || '7' || substr(md5(s.i || '${salt}'), 1, 3) || '8' || substr(md5(s.i || '${salt}'), 4, 15))::uuid`;
    const created = `timestamptz 'epoch' + s.ms * interval '1 millisecond'`;
    await timed(
      statements[0]!,
      mode,
      `INSERT INTO messages (id, request_id, type, recipient, created_at) SELECT ${id('m')}, 'trigger-' || s.i, 'bench.trigger', '{}', ${created} FROM (${series}) AS s`,
      [],
    );
    await timed(
      statements[1]!,
      mode,
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at)
       SELECT ${id('w')}, ${id('m')}, 'trigger-user', 'websocket', 'inbox:' || s.i, 'en', 'queued', ${created} FROM (${series}) AS s`,
      [],
    );
    const keys = `SELECT ${id('w')} AS id, ${created} AS created_at FROM (${series}) AS s`;
    await timed(
      statements[2]!,
      mode,
      `UPDATE deliveries d SET status = 'sent', attempts = d.attempts + 1, updated_at = now() FROM (${keys}) AS k WHERE d.id = k.id AND d.created_at = k.created_at AND d.status = 'queued'`,
      [],
    );
    await timed(
      statements[3]!,
      mode,
      `UPDATE deliveries d SET status = 'delivered', updated_at = now(), delivered_at = now() FROM (${keys}) AS k WHERE d.id = k.id AND d.created_at = k.created_at`,
      [],
    );
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return statements.map((statement) => ({ statement, on: median(times.get(statement)!.on), off: median(times.get(statement)!.off) }));
}

async function issueKey(url: string): Promise<string> {
  const dataSource = await createDataSource({ databaseUrl: url, databasePoolSize: 1 }).initialize();
  try {
    return (await new ApiKeyStore(dataSource).create('bench', ['query'])).key;
  } finally {
    await dataSource.destroy();
  }
}

/** The query API in its own process, as in production, so the clients here do not share its event loop. */
async function startApi(url: string, ports: { grpc: number; http: number }): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/query-api/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, QUERY_API_GRPC_PORT: String(ports.grpc), QUERY_API_HTTP_PORT: String(ports.http), QUERY_API_GRPC_HOST: '127.0.0.1', QUERY_API_PAGE_TOKEN_SECRET: randomBytes(32).toString('hex'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the query API exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('the query API did not become healthy within 60 s');
    const healthy = await fetch(`http://127.0.0.1:${ports.http}/health`).then((r) => r.ok, () => false);
    if (healthy) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The two measured methods of notify.v1.MessageQuery, from the .proto files as any client loads them. */
function loadMethods(): Record<'ListMessages' | 'GetMessage', MethodDefinition<object, unknown>> {
  const definition = loadSync(NOTIFY_PROTO_FILES, { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: [NOTIFY_PROTO_DIR] });
  const service = definition['notify.v1.MessageQuery'] as Record<string, MethodDefinition<object, unknown>>;
  return { ListMessages: service.ListMessages!, GetMessage: service.GetMessage! };
}

/** Why a reply is not what was asked for (counted as an error), or undefined. */
function wrongReply(method: 'ListMessages' | 'GetMessage', request: Record<string, unknown>, reply: Record<string, unknown>): string | undefined {
  const messages = method === 'GetMessage' ? [reply] : ((reply.messages ?? []) as Record<string, unknown>[]);
  const wrong =
    method === 'GetMessage'
      ? reply.id !== request.id
      : messages.length !== PAGE_SIZE || messages.some((m) => ((m.deliveries ?? []) as { userId?: string }[]).some((d) => d.userId !== request.userId));
  return wrong ? `${method} answered ${JSON.stringify(reply).slice(0, 300)} to ${JSON.stringify(request)}` : undefined;
}

/** A call every 1/rate s for `seconds`, spread over the clients; latency counts from when the call was due. */
async function openLoop(clients: Client[], call: Call, rate: number, seconds: number): Promise<Omit<Measured, 'name' | 'cpu'>> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let errors = 0;
  const began = performance.now();
  const pending: Promise<void>[] = [];
  for (let n = 0; n < total; n++) {
    const due = began + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      call(clients[n % clients.length]!).then(
        () => void latencies.push(performance.now() - due),
        () => void (errors += 1),
      ),
    );
  }
  await Promise.all(pending);
  return summary(`open loop, ${rate}/s for ${seconds} s`, latencies, errors, (performance.now() - began) / 1000);
}

/** `concurrency` calls in flight for `seconds`: the most this setup answers. */
async function closedLoop(clients: Client[], call: Call, concurrency: number, seconds: number): Promise<Omit<Measured, 'name' | 'cpu'>> {
  const latencies: number[] = [];
  let errors = 0;
  const began = performance.now();
  const stopAt = began + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < stopAt) {
        const started = performance.now();
        await call(clients[worker % clients.length]!).then(
          () => void latencies.push(performance.now() - started),
          () => void (errors += 1),
        );
      }
    }),
  );
  return summary(`closed loop, ${concurrency} in flight for ${seconds} s`, latencies, errors, (performance.now() - began) / 1000);
}

/**
 * Where a call's CPU goes. The clients share the two cores with the API and PostgreSQL here, so the
 * split says what a server with its own cores would carry.
 */
function cpuClock(db: PgClient, apiPid: number): CpuClock {
  const ticksOf = (pid: number): number => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      return 0;
    }
  };
  return {
    async read() {
      const backends = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'query-api' AND datname = current_database()`);
      const own = process.cpuUsage();
      return { clients: (own.user + own.system) / 1000, api: ticksOf(apiPid), backends: new Map(backends.rows.map((row) => [row.pid, ticksOf(row.pid)])) };
    },
  };
}

/** Backends the pool opened or closed during the run are left out, so PostgreSQL's share can only be understated. */
async function withCpu(clock: CpuClock, run: () => Promise<Omit<Measured, 'name' | 'cpu'>>): Promise<Omit<Measured, 'name'>> {
  const before = await clock.read();
  const result = await run();
  const after = await clock.read();
  const calls = Math.max(1, result.calls);
  let postgres = 0;
  for (const [pid, ticks] of after.backends) if (before.backends.has(pid) && ticks > 0) postgres += ticks - before.backends.get(pid)!;
  return { ...result, cpu: { clients: (after.clients - before.clients) / calls, api: (after.api - before.api) / calls, postgres: postgres / calls } };
}

function summary(mode: string, latencies: number[], errors: number, seconds: number): Omit<Measured, 'name' | 'cpu'> {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { mode, calls: latencies.length, errors, perSecond: latencies.length / seconds, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

async function count(db: PgClient, table: string): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
