import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompressionTypes, Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { Topics } from '@notify/contracts';
import { eventually, freePort } from '@notify/testing';
import { AppProcess } from './app-process';
import { readAllRecords, readDeadLetter, readRecords } from './dead-letters';
import { whileRefusing } from './storage-refusal';
import { consumerLag, messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

/** The Apache Kafka jars that `tools/kafka/kafka.sh install` fetched for the test broker: the Java client among them. */
const KAFKA_LIB = join(__dirname, '..', '..', 'tools', 'kafka', '.cache', 'lib');

/** The message center in its own process, so it can be killed and restarted like in production. */
describe('message center ingestion', () => {
  const run = randomBytes(4).toString('hex');
  const group = `e2e-mc-${run}`;
  const kafka = testKafka();
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  let producer: Producer;
  let center: AppProcess;
  let centerPort: number;
  const centerEnv = { MESSAGE_CENTER_GROUP: group, LOG_LEVEL: 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1' };

  const request = (id: string, userId: string) => ({
    key: userId,
    value: JSON.stringify({ id, type: 'account.note', to: { userId }, content: { title: `note ${id}` } }),
  });
  const count = async (sql: string, params: unknown[]): Promise<number> => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);
  const storedLike = (prefix: string) => count(`SELECT count(*) AS n FROM request_keys WHERE request_id LIKE $1`, [`${prefix}%`]);
  const lag = () => consumerLag(kafka, group, Topics.requests);
  /** A session of its own holding `userId`'s inbox number in an open transaction: a batch that numbers that user waits for it. */
  const holdInboxNumber = async (userId: string): Promise<{ holder: Client; holderPid: number }> => {
    const holder = new Client({ connectionString: process.env.DATABASE_URL });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(`INSERT INTO inbox_sequences (user_id, last_seq) VALUES ($1, 0)`, [userId]);
    return { holder, holderPid: (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid };
  };
  /**
   * Once `app`'s batch waits on the holder's lock, stops `app`, waits for the line saying the stop
   * began, lets the batch go on (the holder commits) and expects the process to exit 0.
   */
  const stopWhileWaiting = async (app: AppProcess, holder: Client, holderPid: number, timeoutMs: number): Promise<void> => {
    await eventually(
      () => db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`, [holderPid]),
      (result) => result.rows.length > 0,
      { timeoutMs },
    );
    const exited = app.stop();
    await eventually(async () => app.output, (output) => output.includes('the batch in hand ends at its next transaction'));
    await holder.query('COMMIT');
    expect(await exited).toBe(0);
  };

  async function produceAll(messages: { key: string; value: string }[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({ topic: Topics.requests, messages: messages.slice(i, i + 500) });
    }
  }

  beforeAll(async () => {
    await db.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    centerPort = await freePort();
    await startGroupsAtTheEnd(kafka, messageCenterGroups(group));
    center = new AppProcess('apps/message-center/src/main.ts', { ...centerEnv, MESSAGE_CENTER_PORT: String(centerPort) }, centerPort);
    await center.start();
  });

  afterAll(async () => {
    await center.stop();
    await producer.disconnect();
    await db.end();
  });

  it('stores 999 valid requests, dead-letters the poison one with its reason, and catches up', async () => {
    const prefix = `poison-${run}-`;
    const messages = Array.from({ length: 999 }, (_, i) => request(`${prefix}${i}`, `u-${run}-${i % 50}`));
    messages.splice(500, 0, { key: `poison-key-${run}`, value: '{"id": "half a request", "type":' });
    await produceAll(messages);

    await eventually(() => storedLike(prefix), (n) => n === 999, { timeoutMs: 60_000 });
    await eventually(lag, (n) => n === 0);
    const dead = await readDeadLetter(Topics.requestsDlq, `poison-key-${run}`);
    expect(dead.headers['x-error-code']).toBe('invalid_json');
    expect(dead.value).toBe('{"id": "half a request", "type":');
    expect(await count(`SELECT count(*) AS n FROM messages WHERE request_id LIKE $1`, [`${prefix}%`])).toBe(999);
  });

  it('stores requests that a Java producer compressed with each codec Kafka has: gzip, snappy, lz4 and zstd', async () => {
    const prefix = `codec-${run}-`;
    const codecs = ['gzip', 'snappy', 'lz4', 'zstd'];
    const lines = codecs.flatMap((codec) => [0, 1].map((i) => request(`${prefix}${codec}-${i}`, `codec-user-${run}`)).map(({ key, value }) => `${codec}\t${key}\t${value}`));
    const output = execFileSync('java', ['-cp', join(KAFKA_LIB, '*'), join(__dirname, '..', 'java', 'CompressedProducer.java'), process.env.KAFKA_BROKERS!, Topics.requests], {
      input: `${lines.join('\n')}\n`,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(output.trim().split('\n')).toEqual(codecs.map((codec) => `produced 2 with ${codec}`));

    await eventually(() => storedLike(prefix), (n) => n === 8, { timeoutMs: 60_000 });
    await eventually(lag, (n) => n === 0);
    expect(await center.health()).toBe(200);
  });

  it('dead-letters a compressed request too large for the broker uncompressed, and the requests after it are stored', async () => {
    const prefix = `zipped-${run}-`;
    const userId = `zipped-user-${run}`;
    // 2 MB of JSON, a few KB gzipped: the broker took it compressed, and a plain copy would be refused.
    const huge = JSON.stringify({ id: `${prefix}huge`, type: 'account.note', to: { userId }, data: { note: 'x'.repeat(2_000_000) }, content: { title: 'x' } });
    await producer.send({ topic: Topics.requests, compression: CompressionTypes.GZIP, messages: [request(`${prefix}0`, userId), { key: userId, value: huge }] });
    await produceAll([request(`${prefix}1`, userId)]);

    await eventually(() => storedLike(prefix), (n) => n === 2, { timeoutMs: 60_000 });
    const dead = await readDeadLetter(Topics.requestsDlq, userId);
    expect(dead.headers['x-error-code']).toBe('payload_too_large');
    expect(dead.value === huge).toBe(true);
  });

  it('dead-letters a request whose text PostgreSQL cannot store, and the requests after it in its partition are stored', async () => {
    const prefix = `nul-${run}-`;
    const userId = `nul-user-${run}`;
    const poison = JSON.stringify({ id: `${prefix}bad`, type: 'account.note', to: { userId }, data: { note: 'a\u0000b' }, content: { title: 'x' } });
    await produceAll([request(`${prefix}0`, userId), { key: userId, value: poison }, request(`${prefix}1`, userId)]);

    await eventually(() => storedLike(prefix), (n) => n === 2, { timeoutMs: 60_000 });
    const dead = await readDeadLetter(Topics.requestsDlq, userId);
    expect(dead.headers['x-error-code']).toBe('schema_violation');
    expect(dead.headers['x-error-reason']).toMatch(/^data\.note: /);
    expect(dead.value).toBe(poison);
    expect(await count(`SELECT count(*) AS n FROM request_keys WHERE request_id = $1`, [`${prefix}bad`])).toBe(0);
  });

  it('dead-letters a request whose expiry PostgreSQL cannot store (the year 10000 in UTC), and the requests after it are stored', async () => {
    const prefix = `y10k-${run}-`;
    const userId = `y10k-user-${run}`;
    const poison = JSON.stringify({ id: `${prefix}bad`, type: 'account.note', to: { userId }, expiresAt: '9999-12-31T23:00:00-05:00', content: { title: 'x' } });
    await produceAll([request(`${prefix}0`, userId), { key: userId, value: poison }, request(`${prefix}1`, userId)]);

    await eventually(() => storedLike(prefix), (n) => n === 2, { timeoutMs: 60_000 });
    const dead = await readDeadLetter(Topics.requestsDlq, userId);
    expect(dead.headers['x-error-code']).toBe('schema_violation');
    expect(dead.headers['x-error-reason']).toMatch(/^expiresAt: must fall between/);
    expect(dead.value).toBe(poison);
  });

  it('dead-letters a request PostgreSQL refuses for its data, and stores the rest of its batch', async () => {
    const prefix = `refused-${run}-`;
    const userId = `refused-user-${run}`;
    await whileRefusing(db, 'messages', `request_id <> '${prefix}bad'`, async () => {
      const refused = request(`${prefix}bad`, userId);
      await produceAll([request(`${prefix}0`, userId), refused, request(`${prefix}1`, userId)]);

      await eventually(() => storedLike(prefix), (n) => n === 2, { timeoutMs: 60_000 });
      const dead = await readDeadLetter(Topics.requestsDlq, userId);
      expect(dead.headers['x-error-code']).toBe('storage_refused');
      expect(dead.headers['x-error-reason']).toBe('PostgreSQL refused to store the record (SQLSTATE 23514)');
      expect(dead.value).toBe(refused.value);
      expect(await count(`SELECT count(*) AS n FROM request_keys WHERE request_id = $1`, [`${prefix}bad`])).toBe(0);
    });
  });

  it('stores the next copy of a request id when PostgreSQL refused the first one, as a later batch would', async () => {
    const id = `refused-first-${run}`;
    const userId = `refused-first-user-${run}`;
    const copyAs = (type: string) => ({ key: userId, value: JSON.stringify({ id, type, to: { userId }, data: { orderNo: '7' }, content: { title: type } }) });
    await whileRefusing(db, 'messages', `request_id <> '${id}' OR type <> 'account.note'`, async () => {
      // one batch: the first copy is refused by PostgreSQL, the corrected one after it can be stored
      await producer.send({ topic: Topics.requests, messages: [request(`before-${id}`, userId), copyAs('account.note'), copyAs('order.shipped')] });
      await eventually(() => storedLike(id), (n) => n === 1, { timeoutMs: 60_000 });
      await eventually(lag, (n) => n === 0);
    });
    expect((await db.query(`SELECT type FROM messages WHERE request_id = $1`, [id])).rows).toEqual([{ type: 'order.shipped' }]);
    // Planned after the write that refused the first copy had committed, and stamped then: stamped
    // with the time of that write's messages, it would sort among messages committed before it.
    const { rows: times } = await db.query<{ request_id: string; created_at: Date }>(`SELECT request_id, created_at FROM messages WHERE request_id = ANY($1::text[])`, [[id, `before-${id}`]]);
    const createdAt = (requestId: string) => times.find((row) => row.request_id === requestId)!.created_at.getTime();
    expect(createdAt(id)).toBeGreaterThan(createdAt(`before-${id}`));
    const dead = await readAllRecords(Topics.requestsDlq, userId);
    expect(dead.map((d) => [d.headers['x-error-code'], (JSON.parse(d.value) as { type: string }).type])).toEqual([['storage_refused', 'account.note']]);
  });

  /**
   * Stores a request, then produces a copy of it with `changes` and a poison record after it on the
   * same partition: the copy is a replay (its queued job goes out again), only the poison is dead-lettered.
   */
  async function expectCopyTakenForReplay(name: string, changes: Record<string, unknown>): Promise<void> {
    const userId = `r-${run}-${name}`;
    const id = `${name}-${run}`;
    await produceAll([request(id, userId)]);
    await eventually(() => storedLike(id), (n) => n === 1);
    const [first] = await readRecords(Topics.deliver.websocket, userId, 1);

    const copy = { ...(JSON.parse(request(id, userId).value) as Record<string, unknown>), ...changes };
    await produceAll([{ key: userId, value: JSON.stringify(copy) }, { key: userId, value: '{"not": "a request"' }]);

    const jobs = await readRecords(Topics.deliver.websocket, userId, 2);
    expect(jobs.map((job) => (JSON.parse(job.value) as { deliveryId: string }).deliveryId)).toEqual(Array(2).fill((JSON.parse(first!.value) as { deliveryId: string }).deliveryId));
    const dead = await readRecords(Topics.requestsDlq, userId, 1);
    expect(dead.map((d) => d.headers['x-error-code'])).toEqual(['invalid_json']);
    expect(await storedLike(id)).toBe(1);
  }

  it('takes a refused copy of a request stored before for a replay: its queued jobs go out again, nothing to the DLQ', async () => {
    // Refused now (a sendAt past the retention period), as a route or template changed since its first pass would refuse it.
    await expectCopyTakenForReplay('replayed', { sendAt: new Date(Date.now() + 60 * 86_400_000).toISOString() });
  });

  it('takes a copy of a stored request that breaks the schema now for a replay, as after an upgrade that narrowed a rule', async () => {
    await expectCopyTakenForReplay('narrowed', { priority: 'urgent' });
  });

  it('stores the first copy of a request id in a batch that can be planned, and dead-letters the copy before it', async () => {
    const userId = `r-${run}-copies`;
    const id = `copies-${run}`;
    const order = (data: Record<string, unknown>) => ({ key: userId, value: JSON.stringify({ id, type: 'order.shipped', to: { userId }, data }) });
    await producer.send({ topic: Topics.requests, messages: [order({}), order({ orderNo: 'A-17' })] });

    await eventually(() => storedLike(id), (n) => n === 1);
    const [dead] = await readRecords(Topics.requestsDlq, userId, 1);
    expect(dead!.headers['x-error-code']).toBe('template_error');
    expect(JSON.parse(dead!.value)).toEqual({ id, type: 'order.shipped', to: { userId }, data: {} });
    const stored = await db.query(`SELECT m.data FROM messages m JOIN request_keys k ON k.message_id = m.id AND k.created_at = m.created_at WHERE k.request_id = $1`, [id]);
    expect(stored.rows).toEqual([{ data: { orderNo: 'A-17' } }]);
  });

  it('replays from the beginning of the topic without creating a row, a delivery or an inbox entry', async () => {
    const prefix = `poison-${run}-`;
    const snapshot = async () => ({
      messages: await count(`SELECT count(*) AS n FROM messages WHERE request_id LIKE $1`, [`${prefix}%`]),
      deliveries: await count(`SELECT count(*) AS n FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id LIKE $1`, [`${prefix}%`]),
      inbox: await count(`SELECT count(*) AS n FROM inbox_entries WHERE user_id LIKE $1`, [`u-${run}-%`]),
    });
    const before = await snapshot();
    expect(before).toEqual({ messages: 999, deliveries: 999 * 2, inbox: 999 });

    await center.stop();
    const admin = kafka.admin();
    await admin.connect();
    await admin.resetOffsets({ groupId: group, topic: Topics.requests, earliest: true });
    await admin.disconnect();
    expect(await lag()).toBeGreaterThanOrEqual(1000);
    await center.start();

    await eventually(lag, (n) => n === 0, { timeoutMs: 60_000 });
    expect(await snapshot()).toEqual(before);
  });

  it('stores every request exactly once after a kill -9 in the middle of the work, with gap-free inboxes', async () => {
    const prefix = `killed-${run}-`;
    const users = Array.from({ length: 20 }, (_, i) => `k-${run}-${i}`);
    // The kill comes at the first stored row, while the requests are still being produced: awaited
    // first, a fast machine could have stored all of them before it.
    const producing = produceAll(Array.from({ length: 10_000 }, (_, i) => request(`${prefix}${i}`, users[i % users.length]!)));
    await eventually(() => storedLike(prefix), (n) => n > 0, { timeoutMs: 60_000, intervalMs: 20 });

    expect(await center.stop('SIGKILL')).toBeNull();
    const storedWhenKilled = await storedLike(prefix);
    await producing;
    await center.start();
    await eventually(() => storedLike(prefix), (n) => n === 10_000, { timeoutMs: 90_000 });
    await eventually(lag, (n) => n === 0);

    expect(storedWhenKilled).toBeLessThan(10_000);
    const duplicates = await db.query(`SELECT request_id FROM messages WHERE request_id LIKE $1 GROUP BY request_id HAVING count(*) > 1`, [`${prefix}%`]);
    expect(duplicates.rows).toEqual([]);
    const websocket = await count(
      `SELECT count(*) AS n FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id LIKE $1 AND d.channel = 'websocket'`,
      [`${prefix}%`],
    );
    expect(websocket).toBe(10_000);
    const inboxes = await db.query<{ user_id: string; n: string; low: string; high: string }>(
      `SELECT user_id, count(*) AS n, min(seq) AS low, max(seq) AS high FROM inbox_entries WHERE user_id = ANY($1) GROUP BY user_id`,
      [users],
    );
    expect(inboxes.rows).toHaveLength(20);
    for (const row of inboxes.rows) expect({ user: row.user_id, n: Number(row.n), low: Number(row.low), high: Number(row.high) }).toEqual({ user: row.user_id, n: 500, low: 1, high: 500 });
  }, 360_000);

  const deliveryOf = (record: { value: string }) => (JSON.parse(record.value) as { deliveryId: string }).deliveryId;

  /** Runs `work` while the same center runs with the route table's default route (which takes account.note) removed. */
  async function withoutDefaultRoute(work: (unrouted: AppProcess) => Promise<void>): Promise<void> {
    const routes = parse(readFileSync('config/routes.yaml', 'utf8')) as { routes: Record<string, unknown> };
    delete routes.routes.default;
    const routesFile = join(mkdtempSync(join(tmpdir(), 'routes-')), 'routes.yaml');
    writeFileSync(routesFile, stringify(routes));
    await center.stop();
    const unrouted = new AppProcess('apps/message-center/src/main.ts', { ...centerEnv, MESSAGE_CENTER_PORT: String(centerPort), NOTIFY_ROUTES: routesFile }, centerPort);
    await unrouted.start();
    try {
      await work(unrouted);
    } finally {
      await unrouted.stop();
      await center.start();
    }
  }

  it('takes a copy of a stored request whose type has lost its route for a replay, not for bad input', async () => {
    const userId = `r-${run}-unrouted`;
    const id = `unrouted-${run}`;
    await produceAll([request(id, userId)]);
    await eventually(() => storedLike(id), (n) => n === 1);
    const [first] = await readRecords(Topics.deliver.websocket, userId, 1);

    await withoutDefaultRoute(async () => {
      const other = `unrouted-other-${run}`;
      await produceAll([request(id, userId), request(other, userId)]);

      const jobs = await readRecords(Topics.deliver.websocket, userId, 2);
      expect(jobs.map(deliveryOf)).toEqual([deliveryOf(first!), deliveryOf(first!)]);
      // Of two copies of one id in a batch, an unroutable one is refused only before the routed copy; after it, a duplicate.
      const [before, after] = [`unrouted-before-${run}`, `unrouted-after-${run}`];
      const routed = (requestId: string) => ({ key: userId, value: JSON.stringify({ id: requestId, type: 'order.shipped', to: { userId }, data: { orderNo: '7' } }) });
      await producer.send({ topic: Topics.requests, messages: [request(before, userId), routed(before), routed(after), request(after, userId)] });
      await eventually(async () => (await storedLike(before)) + (await storedLike(after)), (n) => n === 2);
      await eventually(lag, (n) => n === 0);

      // every dead letter is produced before the offsets are committed: with the lag at 0 the topic holds them all
      const dead = await readAllRecords(Topics.requestsDlq, userId);
      expect(dead.map((d) => [d.headers['x-error-code'], (JSON.parse(d.value) as { id: string; type: string }).id])).toEqual([
        ['unknown_type', other],
        ['unknown_type', before],
      ]);
      expect(await storedLike(id)).toBe(1);
    });
  });

  it('dead-letters a copy of a request stored in part whose type has lost its route, hands out what was stored, and resumes it when the record is driven again', async () => {
    const userId = `r-${run}-in-part`;
    const id = `in-part-${run}`;
    const unfinished = () => count(`SELECT count(*) AS n FROM unfinished_requests WHERE request_id = $1`, [id]);
    await produceAll([request(id, userId)]);
    await eventually(() => storedLike(id), (n) => n === 1);
    const [first] = await readRecords(Topics.deliver.websocket, userId, 1);
    // As a broadcast stopped between its slices leaves its request: stored in part, the rest left to its replay.
    await db.query(`INSERT INTO unfinished_requests (request_id) VALUES ($1)`, [id]);
    try {
      let dead: { value: string; headers: Record<string, string> } | undefined;
      await withoutDefaultRoute(async (unrouted) => {
        await produceAll([request(id, userId)]);

        [dead] = await readRecords(Topics.requestsDlq, userId, 1);
        expect(dead!.headers['x-error-code']).toBe('unknown_type');
        const jobs = await readRecords(Topics.deliver.websocket, userId, 2);
        expect(jobs.map(deliveryOf)).toEqual([deliveryOf(first!), deliveryOf(first!)]);
        await eventually(lag, (n) => n === 0);
        expect(unrouted.output).toMatch(new RegExp(`"requestId":"${id}".*stored in part`));
        expect(await unfinished()).toBe(1);
      });

      // The route is back: the record driven again from the DLQ resumes the request and ends it.
      await produceAll([{ key: userId, value: dead!.value }]);
      await eventually(unfinished, (n) => n === 0, { timeoutMs: 60_000 });
      expect(await storedLike(id)).toBe(1);
    } finally {
      await db.query(`DELETE FROM unfinished_requests WHERE request_id = $1`, [id]);
    }
  });

  it('stores a batch of requests to many users a transaction’s worth at a time: each request once, every job once and in order, inboxes without gaps', async () => {
    const prefix = `sliced-${run}-`;
    const users = Array.from({ length: 10 }, (_, i) => `sliced-${run}-u${i}`);
    await center.stop();
    // About 20 deliveries per request (websocket and push for 10 users): a transaction every two requests.
    const sliced = new AppProcess('apps/message-center/src/main.ts', { ...centerEnv, MESSAGE_CENTER_PORT: String(centerPort), MESSAGE_CENTER_MAX_DELIVERIES_PER_TRANSACTION: '25' }, centerPort);
    await sliced.start();
    try {
      const ids = Array.from({ length: 7 }, (_, i) => `${prefix}${i}`);
      // One key: one partition, so one batch, in order.
      await producer.send({
        topic: Topics.requests,
        messages: ids.map((id) => ({ key: prefix, value: JSON.stringify({ id, type: 'account.note', to: { userIds: users }, content: { title: id } }) })),
      });
      await eventually(() => storedLike(prefix), (n) => n === 7, { timeoutMs: 60_000 });
      await eventually(lag, (n) => n === 0);

      const inboxes = await db.query<{ user_id: string; seqs: string[] }>(
        `SELECT user_id, array_agg(seq::text ORDER BY seq) AS seqs FROM inbox_entries WHERE user_id = ANY($1) GROUP BY user_id ORDER BY user_id`,
        [users],
      );
      expect(inboxes.rows).toEqual([...users].sort().map((user_id) => ({ user_id, seqs: ['1', '2', '3', '4', '5', '6', '7'] })));
      const jobs = await readAllRecords(Topics.deliver.websocket, users[3]!);
      expect(jobs.map((job) => (JSON.parse(job.value) as { requestId: string }).requestId)).toEqual(ids);
      // in four transactions: two requests each (40 deliveries, past 25), then the last one
      const transactions = await count(`SELECT count(DISTINCT xmin::text) AS n FROM messages WHERE request_id LIKE $1`, [`${prefix}%`]);
      expect(transactions).toBe(4);
      // Each transaction's messages are created after the last one committed: a reader paging newest
      // first past the first transaction's messages never finds the next one's behind its position.
      const spans = await db.query<{ first: Date; last: Date }>(
        `SELECT min(created_at) AS first, max(created_at) AS last FROM messages WHERE request_id LIKE $1 GROUP BY xmin::text ORDER BY 1`,
        [`${prefix}%`],
      );
      for (let i = 1; i < spans.rows.length; i++) expect(spans.rows[i]!.first.getTime()).toBeGreaterThan(spans.rows[i - 1]!.last.getTime());
    } finally {
      await sliced.stop();
      await center.start();
    }
  });

  it('stops between the transactions of a batch when told to, and the next start stores the rest: each request once, inboxes without gaps', async () => {
    const prefix = `stopped-${run}-`;
    const users = Array.from({ length: 10 }, (_, i) => `stopped-${run}-u${i}`);
    await center.stop();
    // A transaction every two requests (about 20 deliveries each), and the info line that says the stop began.
    const sliced = new AppProcess(
      'apps/message-center/src/main.ts',
      { ...centerEnv, LOG_LEVEL: 'info', MESSAGE_CENTER_PORT: String(centerPort), MESSAGE_CENTER_MAX_DELIVERIES_PER_TRANSACTION: '25' },
      centerPort,
    );
    await sliced.start();
    // Another session holds the first user's inbox number: the batch's first transaction waits for it.
    const { holder, holderPid } = await holdInboxNumber(users[0]!);
    try {
      const ids = Array.from({ length: 7 }, (_, i) => `${prefix}${i}`);
      await producer.send({
        topic: Topics.requests,
        messages: ids.map((id) => ({ key: prefix, value: JSON.stringify({ id, type: 'account.note', to: { userIds: users }, content: { title: id } }) })),
      });
      await stopWhileWaiting(sliced, holder, holderPid, 60_000);
      // The transaction in hand, and nothing after it.
      expect(await storedLike(prefix)).toBe(2);
    } finally {
      await holder.end();
      await sliced.stop();
      await center.start();
    }
    await eventually(() => storedLike(prefix), (n) => n === 7, { timeoutMs: 60_000 });
    await eventually(lag, (n) => n === 0);
    const duplicates = await db.query(`SELECT request_id FROM messages WHERE request_id LIKE $1 GROUP BY request_id HAVING count(*) > 1`, [`${prefix}%`]);
    expect(duplicates.rows).toEqual([]);
    const inboxes = await db.query<{ user_id: string; seqs: string[] }>(
      `SELECT user_id, array_agg(seq::text ORDER BY seq) AS seqs FROM inbox_entries WHERE user_id = ANY($1) GROUP BY user_id ORDER BY user_id`,
      [users],
    );
    expect(inboxes.rows).toEqual([...users].sort().map((user_id) => ({ user_id, seqs: ['1', '2', '3', '4', '5', '6', '7'] })));
  });

  it('stops a broadcast stored in steps after the slice in hand, and the next start resumes it: every subscriber once, no gaps', async () => {
    // The message center's ROWS_PER_STATEMENT: a broadcast to more users is stored a slice of this many per transaction.
    const usersPerSlice = 20_000;
    const topic = `broadcast-${run}`;
    const id = `broadcast-${run}`;
    const subscribers = Array.from({ length: 2 * usersPerSlice + 1 }, (_, i) => `bc-${run}-${i}`);
    // Slices of 20,000, 20,000 and 1 users, in the order JavaScript sorts them, as the store cuts them.
    const sorted = [...subscribers].sort();
    const [firstOfSlice2, slice3User] = [sorted[usersPerSlice]!, sorted[2 * usersPerSlice]!];
    await db.query(`INSERT INTO topic_subscriptions (topic, user_id) SELECT $1, unnest($2::varchar[])`, [topic, subscribers]);
    const unfinished = () => count(`SELECT count(*) AS n FROM unfinished_requests WHERE request_id = $1`, [id]);
    const inboxOf = async (messageId: string) => {
      const { rows } = await db.query<{ entries: string; users: string }>(
        `SELECT count(*) AS entries, count(DISTINCT user_id) AS users FROM inbox_entries WHERE message_id = $1`,
        [messageId],
      );
      return { entries: Number(rows[0]!.entries), users: Number(rows[0]!.users) };
    };
    const seqsOf = async (userId: string) =>
      (await db.query<{ seq: string }>(`SELECT seq::text FROM inbox_entries WHERE user_id = $1 ORDER BY seq`, [userId])).rows.map((row) => row.seq);
    try {
      await center.stop();
      // With the info line that says the stop began.
      const stepped = new AppProcess('apps/message-center/src/main.ts', { ...centerEnv, LOG_LEVEL: 'info', MESSAGE_CENTER_PORT: String(centerPort) }, centerPort);
      await stepped.start();
      // Another session holds the inbox number of slice 2's first user: slice 2's transaction waits for it.
      const { holder, holderPid } = await holdInboxNumber(firstOfSlice2);
      let messageId: string;
      try {
        // Websocket only: one delivery, and one inbox entry, per subscriber.
        await producer.send({
          topic: Topics.requests,
          messages: [{ key: topic, value: JSON.stringify({ id, type: 'account.note', to: { topic }, channels: ['websocket'], content: { title: id } }) }],
        });
        await stopWhileWaiting(stepped, holder, holderPid, 120_000);

        // Slice 2, the slice in hand, and nothing after it: slice 3 and the finish are left to the next start.
        expect(await unfinished()).toBe(1);
        messageId = (await db.query<{ message_id: string }>(`SELECT message_id FROM request_keys WHERE request_id = $1`, [id])).rows[0]!.message_id;
        expect(await inboxOf(messageId)).toEqual({ entries: 2 * usersPerSlice, users: 2 * usersPerSlice });
        expect(await seqsOf(slice3User)).toEqual([]);
      } finally {
        await holder.end();
        await stepped.stop();
        await center.start();
      }

      await eventually(unfinished, (n) => n === 0, { timeoutMs: 120_000 });
      await eventually(lag, (n) => n === 0, { timeoutMs: 60_000 });
      expect(await count(`SELECT count(*) AS n FROM messages WHERE request_id = $1`, [id])).toBe(1);
      expect(await inboxOf(messageId)).toEqual({ entries: subscribers.length, users: subscribers.length });
      // Every subscriber is new to inboxes but the holder's user, whose row the holder seeded at 0: each entry is number 1.
      expect(await count(`SELECT count(*) AS n FROM inbox_entries WHERE message_id = $1 AND seq <> 1`, [messageId])).toBe(0);
      expect(await seqsOf(firstOfSlice2)).toEqual(['1']);
      expect(await seqsOf(slice3User)).toEqual(['1']);
      const { rows: deliveries } = await db.query<{ n: string; users: string; channels: string[] }>(
        `SELECT count(*) AS n, count(DISTINCT user_id) AS users, array_agg(DISTINCT channel::text) AS channels FROM deliveries WHERE message_id = $1`,
        [messageId],
      );
      expect(deliveries).toEqual([{ n: String(subscribers.length), users: String(subscribers.length), channels: ['websocket'] }]);
    } finally {
      await db.query(`DELETE FROM topic_subscriptions WHERE topic = $1`, [topic]);
    }
  }, 360_000);

  it('goes on after its database connections are cut, as in a PostgreSQL restart', async () => {
    const prefix = `cut-${run}-`;
    const cut = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'message-center' AND datname = current_database()`);
    expect(cut.rowCount).toBeGreaterThan(0);
    await produceAll(Array.from({ length: 100 }, (_, i) => request(`${prefix}${i}`, `c-${run}-${i % 5}`)));
    await eventually(() => storedLike(prefix), (n) => n === 100, { timeoutMs: 60_000 });
    expect(await center.health()).toBe(200);
  });
});
