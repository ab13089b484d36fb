import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { INestApplication } from '@nestjs/common';
import { Client as PgClient } from 'pg';
import { NotifyClient, NotifyQueryClient, type NotifyQueryError } from '@notify/client';
import { loadMessageCenterConfig, loadQueryApiConfig } from '@notify/config';
import { Topics, type DeliveryJob } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger } from '@notify/observability';
import { grpcPortOf, startQueryApi } from '@notify/query-api';
import { eventually } from '@notify/testing';
import { messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

const ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);

/** The query API next to a running message center: what is registered through Recipients is what routing uses. */
describe('query API with the message center', () => {
  const tag = randomBytes(4).toString('hex');
  const bootstrapKey = `bootstrap-${randomBytes(16).toString('hex')}`;
  const kafka = testKafka();
  const pushReader = kafka.consumer({ groupId: `e2e-query-push-${tag}` });
  const pushJobs: DeliveryJob[] = [];
  const fatal: Error[] = [];
  const db = new PgClient({ connectionString: process.env.DATABASE_URL });
  let center: INestApplication;
  let api: INestApplication;
  let address: string;
  let client: NotifyQueryClient;
  let notify: NotifyClient;

  beforeAll(async () => {
    await db.connect();
    const env = {
      ...process.env,
      MESSAGE_CENTER_PORT: '0',
      MESSAGE_CENTER_GROUP: `e2e-query-center-${tag}`,
      QUERY_API_HTTP_PORT: '0',
      QUERY_API_GRPC_PORT: '0',
      QUERY_API_GRPC_HOST: '127.0.0.1',
      BOOTSTRAP_API_KEY: bootstrapKey,
      // Revocation is then seen on the next call instead of within the default 5 s.
      QUERY_API_KEY_CACHE_MS: '0',
      QUERY_API_PAGE_TOKEN_SECRET: randomBytes(32).toString('hex'),
    };
    const logger = createLogger('e2e', 'warn');
    await startGroupsAtTheEnd(testKafka(), messageCenterGroups(env.MESSAGE_CENTER_GROUP));
    center = await startMessageCenter(loadMessageCenterConfig(env), logger, { onFatal: (e) => void fatal.push(e) });
    api = await startQueryApi(loadQueryApiConfig(env), logger);
    address = `127.0.0.1:${grpcPortOf(api)}`;
    client = NotifyQueryClient.connect({ address, apiKey: bootstrapKey });
    notify = await NotifyClient.connect({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: `e2e-query-${tag}` });
    await pushReader.connect();
    await pushReader.subscribe({ topics: [Topics.deliver.push], fromBeginning: true });
    await pushReader.run({ eachMessage: async ({ message }) => void pushJobs.push(JSON.parse(message.value!.toString())) });
  });

  afterAll(async () => {
    client?.close();
    await pushReader.disconnect();
    await notify?.disconnect();
    await api?.close();
    await center?.close();
    await db.end();
  });

  /** The message once the message center has stored it (NOT_FOUND until then). */
  const storedMessage = (requestId: string) =>
    eventually(
      () => client.getMessageByRequestId(requestId).catch((error: NotifyQueryError) => error.code),
      (found) => typeof found !== 'string',
      { timeoutMs: 60_000, intervalMs: 200 },
    ).then((found) => found as Exclude<typeof found, string>);

  it('uses a device registered through Recipients for the next push, and stops once it is removed', async () => {
    const userId = `push-${tag}`;
    const registered = await client.registerDevice({ userId, deviceId: 'ipad-9', provider: 'apns', token: `token-${tag}`, locale: 'en-US' });
    expect(registered.devices).toEqual([expect.objectContaining({ deviceId: 'ipad-9', provider: 'apns', active: true })]);

    const first = `query-push-${tag}`;
    await notify.send({ id: first, type: 'security.alert', to: { userId }, content: { title: 'New sign-in', body: 'From Berlin' } });
    const message = await storedMessage(first);
    const push = message.deliveries.find((d) => d.channel === 'push');
    expect(push).toMatchObject({ endpoint: `apns:${userId}/ipad-9`, status: 'queued', userId });
    const job = await eventually(async () => pushJobs.find((j) => j.requestId === first), Boolean, { timeoutMs: 60_000 });
    expect(job).toMatchObject({ deliveryId: push!.id, endpoint: `apns:${userId}/ipad-9`, locale: 'en-US', message: { id: message.id, title: 'New sign-in' } });

    expect((await client.removeDevice({ userId, deviceId: 'ipad-9' })).devices).toEqual([]);
    const second = `query-push-after-${tag}`;
    await notify.send({ id: second, type: 'security.alert', to: { userId }, content: { title: 'Another sign-in' } });
    const after = await storedMessage(second);
    expect(after.deliveries.find((d) => d.channel === 'push')).toMatchObject({ status: 'dead', lastError: 'no_endpoint' });

    // The counters kept while the message center stored the request agree with its rows.
    const { rows } = await db.query<{ dead: string }>(
      `SELECT count(*) FILTER (WHERE d.status = 'dead') AS dead FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id = $1`,
      [second],
    );
    expect(await client.getStats({ requestId: second })).toEqual({ requested: 1, sent: 0, delivered: 0, failed: 0, dead: Number(rows[0]!.dead), read: 0, clicked: 0, clickThroughRate: 0 });
    expect(Number(rows[0]!.dead)).toBe(3);
    expect(fatal).toEqual([]);

    const listed = [];
    for await (const m of client.allMessages({ userId, pageSize: 1 })) listed.push(m.id);
    expect(listed).toEqual([after.id, message.id]);
  });

  it('reads every delivery of a message sent to a topic of more subscribers than one answer holds', async () => {
    const topic = `crowd-${tag}`;
    const subscribers = Array.from({ length: 1_050 }, (_, i) => `crowd-${tag}-${i}`);
    await db.query(`INSERT INTO topic_subscriptions (topic, user_id) SELECT $1, unnest($2::varchar[])`, [topic, subscribers]);
    const requestId = `crowd-${tag}`;
    await notify.send({ id: requestId, type: 'news.digest', to: { topic }, channels: ['websocket'], content: { title: 'Hello, all' } });

    const message = await storedMessage(requestId);
    expect(message.deliveries).toHaveLength(1_000);
    expect(message.nextDeliveriesPageToken).toEqual(expect.any(String));
    const all = [];
    for await (const delivery of client.allDeliveries(message, 30)) all.push(delivery);
    expect(all.map((d) => d.userId).sort()).toEqual([...subscribers].sort());
    expect(new Set(all.map((d) => d.id)).size).toBe(1_050);
  });

  it('the api-keys command issues, lists and revokes keys that the API then accepts and refuses', async () => {
    const command = (...args: string[]) =>
      run(process.execPath, ['-r', '@swc-node/register', 'tools/dev/api-keys.ts', ...args], { cwd: ROOT, env: { ...process.env }, timeout: 60_000 });
    const name = `reporting-${tag}`;
    const created = await command('create', name, '--scopes', 'query');
    const key = created.stdout.trim().split('\n').pop()!;
    expect(key).toMatch(/^nq_[A-Za-z0-9_-]{43}$/);

    const reporting = NotifyQueryClient.connect({ address, apiKey: key });
    try {
      expect(await reporting.getStats({ type: `nothing.${tag}` })).toMatchObject({ requested: 0 });
      await expect(reporting.getRecipient(`push-${tag}`)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', method: 'GetRecipient' });

      const listed = await command('list');
      expect(listed.stdout).toMatch(new RegExp(`${name}  query  created \\S+  active`));
      expect(listed.stdout).not.toContain(key);

      await command('revoke', name);
      await expect(reporting.getStats({})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      expect((await command('list')).stdout).toMatch(new RegExp(`${name}  query  created \\S+  revoked`));
      await expect(command('create', 'bad', '--scopes', 'admin')).rejects.toMatchObject({ stderr: expect.stringContaining('unknown scope(s) admin') });
    } finally {
      reporting.close();
    }
  });
});
