import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Client as PgClient } from 'pg';
import { NOTIFY_PROTO_DIR, NOTIFY_PROTO_FILES } from '@notify/client';
import { ApiKeyStore, createDataSource, maintainPartitions, runMigrations } from '@notify/persistence';
import { createTestDatabase, DEFAULT_TEST_ADMIN_URL, freePort } from '@notify/testing';
import { commandOf, PLATFORM_APPS } from '../dev/platform-apps';
import type { LoadJob, LoadResult } from './query-load';

/**
 * `npm run bench:query`: fills a database of its own with MESSAGES messages (and their deliveries)
 * over USERS users and DAYS days of partitions, starts the query API as its own process, then calls
 * ListMessages and GetMessage over gRPC at a fixed RATE (open loop: a call is due every 1/RATE s
 * whether or not earlier ones have answered, and its latency counts from when it was due), and
 * once more as fast as CONCURRENCY calls in flight allow. Also times the counter triggers on
 * 1,000-row writes. The database is dropped at the end.
 */
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const USERS = Number(process.env.BENCH_USERS ?? 10_000);
/** Days of history: by default the retention period's 30, as in steady state. */
const DAYS = Number(process.env.BENCH_DAYS ?? 30);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const PAGE_SIZE = Number(process.env.BENCH_PAGE_SIZE ?? 20);
const CHUNK = 100_000;
const DAY_MS = 86_400_000;
const ROOT = resolve(__dirname, '../..');
const say = (line: string): void => void process.stdout.write(`${line}\n`);


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
  /** The bucket of the API's own call-time histogram that holds its 99th percentile, in ms: the server's share of p99. */
  serverP99: string;
}

/** CPU time so far, in ms, of this process, the API process and each of the API's database backends (Linux /proc). */
interface CpuReading {
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
    const partitions = await makePartitions(database.url, end);
    const fillSeconds = await fill(db, end - DAYS * DAY_MS, end);
    say(`filled ${MESSAGES} messages (${await count(db, 'deliveries')} deliveries) for ${USERS} users over ${DAYS} days (${partitions} partitions per table) in ${fillSeconds.toFixed(1)} s, counters kept by the triggers`);

    const triggers = await timeTriggers(db);

    const key = await issueKey(database.url);
    const ports = { grpc: await freePort(), http: await freePort() };
    api = await startApi(database.url, ports);
    const ids = (await db.query<{ id: string }>(`SELECT id FROM messages TABLESAMPLE SYSTEM (1) LIMIT 5000`)).rows.map((r) => r.id);
    const cpu = cpuClock(db, api.pid!);
    const loadBefore = loadavg()[0]!;
    const results: Measured[] = [];
    let checked = 0;
    for (const method of ['ListMessages', 'GetMessage'] as const) {
      const name = method === 'ListMessages' ? `ListMessages (page of ${PAGE_SIZE})` : method;
      const phases: LoadJob['phase'][] = [
        { kind: 'open', rate: RATE, seconds: SECONDS },
        { kind: 'closed', concurrency: CONCURRENCY, seconds: Math.min(SECONDS, 10) },
      ];
      for (const phase of phases) {
        const load = await startLoad({
          address: `127.0.0.1:${ports.grpc}`, apiKey: key, protoDir: NOTIFY_PROTO_DIR, protoFiles: NOTIFY_PROTO_FILES,
          method, users: USERS, pageSize: PAGE_SIZE, ids, channels: CHANNELS, phase,
        });
        const buckets = await serverBuckets(ports.http, method);
        const before = await cpu.read();
        const result = await load.go();
        const after = await cpu.read();
        if (result.failures.length > 0) say(`${name}: ${result.errors} errors, the first: ${result.failures.join(' | ')}`);
        checked += result.checked;
        results.push({ name, ...result, cpu: cpuPerCall(before, after, result), serverP99: serverP99(buckets, await serverBuckets(ports.http, method)) });
      }
    }
    say(`${checked} replies decoded and checked against their requests (every 50th)`);

    say('');
    say(`${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; load average ${loadBefore.toFixed(2)} before the calls, ${loadavg()[0]!.toFixed(2)} after`);
    say('| call | load | calls | errors | calls/s | p50 ms | p99 ms | max ms | API p99 ms | CPU ms per call: clients / API / PostgreSQL |');
    say('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const perCall = [r.cpu.clients, r.cpu.api, r.cpu.postgres].map((ms) => ms.toFixed(2)).join(' / ');
      say(`| ${r.name} | ${r.mode} | ${r.calls} | ${r.errors} | ${Math.round(r.perSecond)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ${r.serverP99} | ${perCall} |`);
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
    // BENCH_KEEP_DATABASE=1 leaves the filled database for a look with psql (EXPLAIN, pg_stat_statements).
    if (process.env.BENCH_KEEP_DATABASE === '1') say(`database kept: ${database.url}`);
    else await database.drop();
  }
}

/** Partitions for the whole period and a week ahead, as the message center's maintenance would have made them. */
async function makePartitions(url: string, end: number): Promise<number> {
  const dataSource = await createDataSource({ databaseUrl: url, databasePoolSize: 1 }).initialize();
  try {
    const report = await maintainPartitions(dataSource, { now: new Date(end - (DAYS - 1) * DAY_MS), daysAhead: DAYS - 1 + 7, retentionDays: 3650 });
    return report.created.filter((name) => name.startsWith('deliveries_')).length;
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
  const series = `SELECT i, (${start} + floor(i::bigint * ${step}))::bigint AS ms FROM generate_series($1::int, $2::int) AS i`;
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
  // Vacuumed as a database in steady state is: otherwise autovacuum works through the fresh partitions during the calls.
  await db.query('VACUUM (ANALYZE)');
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
    // The keys are handed over as an array, as the platform's own statements do (D17). Every row of
    // the round has the same creation time, so naming it lets PostgreSQL reach only its partition.
    // (Computed in the statement instead, the keys were joined to the rows by a nested loop that
    // computed each key once per row: 1.6 s per statement with a million messages.)
    const roundIds = (await db.query<{ id: string }>(`SELECT ${id('w')} AS id FROM (${series}) AS s`)).rows.map((row) => row.id);
    const inRound = `d.created_at = timestamptz 'epoch' + ${at} * interval '1 millisecond'`;
    await timed(
      statements[2]!,
      mode,
      `UPDATE deliveries d SET status = 'sent', attempts = d.attempts + 1, updated_at = now(), next_attempt_at = now() + interval '70 seconds'
         FROM unnest($1::uuid[]) AS k(id) WHERE d.id = k.id AND ${inRound} AND d.status = 'queued'`,
      [roundIds],
    );
    await timed(
      statements[3]!,
      mode,
      `UPDATE deliveries d SET status = 'delivered', updated_at = now(), delivered_at = now(), next_attempt_at = NULL
         FROM unnest($1::uuid[]) AS k(id) WHERE d.id = k.id AND ${inRound}`,
      [roundIds],
    );
  }
  // The last round ran without them; the database is left as the platform keeps it.
  await db.query(`ALTER TABLE messages ENABLE TRIGGER messages_count_requested`);
  for (const name of ['deliveries_count_inserted', 'deliveries_count_updated']) await db.query(`ALTER TABLE deliveries ENABLE TRIGGER ${name}`);
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
  // BENCH_API_NODE_FLAGS adds node flags to the API's own, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` for a profile.
  const [, ...args] = commandOf(PLATFORM_APPS.find((app) => app.name === 'query-api')!);
  const extra = process.env.BENCH_API_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, ...args], {
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
      return { api: ticksOf(apiPid), backends: new Map(backends.rows.map((row) => [row.pid, ticksOf(row.pid)])) };
    },
  };
}

/** The API's cumulative call-time histogram for one method, from its /metrics: upper bound (ms) → calls. */
async function serverBuckets(httpPort: number, method: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const buckets = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^notify_query_api_call_seconds_bucket\{le="([^"]+)",.*method="([^"]+)"\} (\d+)/.exec(line);
    if (match && match[2] === method) buckets.set(match[1] === '+Inf' ? '∞' : String(Number(match[1]) * 1000), Number(match[3]));
  }
  return buckets;
}

/** "≤ N" for the smallest bucket holding 99% of the calls made between the two readings. */
function serverP99(before: Map<string, number>, after: Map<string, number>): string {
  const total = (after.get('∞') ?? 0) - (before.get('∞') ?? 0);
  for (const [bound, count] of after) if (count - (before.get(bound) ?? 0) >= 0.99 * total) return `≤ ${bound}`;
  return '?';
}

/** CPU ms per call; backends the pool opened or closed during the run are left out, so PostgreSQL's share can only be understated. */
function cpuPerCall(before: CpuReading, after: CpuReading, result: LoadResult): Measured['cpu'] {
  const calls = Math.max(1, result.calls);
  let postgres = 0;
  for (const [pid, ticks] of after.backends) if (before.backends.has(pid) && ticks > 0) postgres += ticks - before.backends.get(pid)!;
  return { clients: result.cpuMs / calls, api: (after.api - before.api) / calls, postgres: postgres / calls };
}

/**
 * The load generator for one phase, in a process of its own (tools/bench/query-load.ts): resolves
 * once it has warmed up; `go()` runs the measured phase and resolves with its result.
 */
async function startLoad(job: LoadJob): Promise<{ go(): Promise<LoadResult> }> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', resolve(__dirname, 'query-load.ts')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done) throw new Error(`the load generator exited with ${child.exitCode}`);
    return line.value;
  };
  child.stdin!.write(`${JSON.stringify(job)}\n`);
  if ((await next()) !== 'warm') throw new Error('the load generator did not warm up');
  return {
    async go() {
      child.stdin!.end('go\n');
      return JSON.parse(await next()) as LoadResult;
    },
  };
}

async function count(db: PgClient, table: string): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
