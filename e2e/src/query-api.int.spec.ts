import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { INestApplication } from '@nestjs/common';
import { Client as PgClient } from 'pg';
import { DataSource } from 'typeorm';
import { NotifyQueryClient } from '@notify/client';
import { loadQueryApiConfig } from '@notify/config';
import { createLogger } from '@notify/observability';
import { ApiKeyStore, createDataSource, maintainPartitions, newId } from '@notify/persistence';
import { grpcPortOf, startQueryApi } from '@notify/query-api';
import { eventually } from '@notify/testing';

/** The .proto files as a client in another language would use them: nothing of the server's code. */
const PROTO_DIR = resolve(__dirname, '../../libs/contracts/proto');
const HEALTH_PROTO = resolve(__dirname, '../../node_modules/grpc-health-check/proto/health/v1/health.proto');
const REFLECTION_PROTO = resolve(__dirname, '../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
const LOADER = { keepCase: false, longs: String, enums: String, defaults: false, arrays: true, oneofs: true };

type Reply = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Unary = (request: unknown, metadata: Metadata, callback: (error: ServiceError | null, reply: Reply) => void) => void;

interface DeliverySeed {
  userId?: string | null;
  channel?: string;
  endpoint?: string;
  status?: string;
  attempts?: number;
  lastError?: string | null;
  tier?: number;
}

describe('query API over gRPC', () => {
  const run = randomBytes(4).toString('hex');
  const bootstrapKey = `bootstrap-${randomBytes(16).toString('hex')}`;
  const db = new PgClient({ connectionString: process.env.DATABASE_URL });
  let admin: DataSource;
  let app: INestApplication;
  let queryClient: Client;
  let recipientsClient: Client;
  let healthClient: Client;
  let reflectionClient: Client;
  let Health: ServiceClientConstructor;
  let env: NodeJS.ProcessEnv;
  let address: string;
  const keys: Record<'query' | 'recipients' | 'revoked', string> = { query: '', recipients: '', revoked: '' };

  beforeAll(async () => {
    await db.connect();
    admin = await createDataSource({ databaseUrl: process.env.DATABASE_URL!, databasePoolSize: 2 }).initialize();
    const store = new ApiKeyStore(admin);
    keys.query = (await store.create(`query-${run}`, ['query'])).key;
    keys.recipients = (await store.create(`recipients-${run}`, ['recipients'])).key;
    keys.revoked = (await store.create(`revoked-${run}`, ['query', 'recipients'])).key;
    await store.revoke(`revoked-${run}`);

    env = {
      ...process.env,
      QUERY_API_GRPC_PORT: '0',
      QUERY_API_HTTP_PORT: '0',
      QUERY_API_GRPC_HOST: '127.0.0.1',
      BOOTSTRAP_API_KEY: bootstrapKey,
      QUERY_API_PAGE_TOKEN_SECRET: randomBytes(32).toString('hex'),
    };
    app = await startQueryApi(loadQueryApiConfig(env), createLogger('e2e', 'warn'));
    address = `127.0.0.1:${grpcPortOf(app)}`;
    const v1 = (loadPackageDefinition(loadSync(['notify/v1/message_query.proto', 'notify/v1/recipients.proto'], { ...LOADER, includeDirs: [PROTO_DIR] })).notify as GrpcObject)
      .v1 as GrpcObject;
    queryClient = new (v1.MessageQuery as ServiceClientConstructor)(address, credentials.createInsecure());
    recipientsClient = new (v1.Recipients as ServiceClientConstructor)(address, credentials.createInsecure());
    const health = ((loadPackageDefinition(loadSync(HEALTH_PROTO, LOADER)).grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject;
    Health = health.Health as ServiceClientConstructor;
    healthClient = new Health(address, credentials.createInsecure());
    const reflection = ((loadPackageDefinition(loadSync(REFLECTION_PROTO, LOADER)).grpc as GrpcObject).reflection as GrpcObject).v1 as GrpcObject;
    reflectionClient = new (reflection.ServerReflection as ServiceClientConstructor)(address, credentials.createInsecure());
  });

  afterAll(async () => {
    for (const client of [queryClient, recipientsClient, healthClient, reflectionClient]) client?.close();
    await app?.close();
    await admin?.destroy();
    await db.end();
  });

  /** `key` null sends no key at all. */
  function call(client: Client, method: string, request: unknown, key: string | null = bootstrapKey): Promise<Reply> {
    const metadata = new Metadata();
    if (key !== null) metadata.set('x-api-key', key);
    const invoke = (client as unknown as Record<string, Unary>)[method]!.bind(client);
    return new Promise((done, fail) => invoke(request, metadata, (error, reply) => (error ? fail(error) : done(reply))));
  }
  const query = (method: string, request: unknown, key?: string | null) => call(queryClient, method, request, key);
  const recipients = (method: string, request: unknown, key?: string) => call(recipientsClient, method, request, key ?? keys.recipients);
  const failure = async (attempt: Promise<unknown>): Promise<{ code: string; details: string }> => {
    const error = (await attempt.then(
      () => {
        throw new Error('the call succeeded');
      },
      (e: unknown) => e,
    )) as ServiceError;
    if (typeof error.code !== 'number') throw error;
    return { code: status[error.code], details: error.details };
  };
  /** Sends each reflection request on one ServerReflectionInfo stream and collects the answers in order. */
  function reflect(requests: object[]): Promise<Reply[]> {
    const stream = (reflectionClient as unknown as { ServerReflectionInfo(): NodeJS.ReadWriteStream }).ServerReflectionInfo();
    const answers: Reply[] = [];
    return new Promise((done, fail) => {
      stream.on('data', (answer: Reply) => {
        answers.push(answer);
        if (answers.length === requests.length) stream.end();
      });
      stream.on('error', fail);
      stream.on('end', () => done(answers));
      for (const request of requests) stream.write(request as never);
    });
  }
  const seconds = (at: Date) => ({ seconds: String(Math.floor(at.getTime() / 1000)), nanos: (at.getTime() % 1000) * 1_000_000 });
  const dateOf = (timestamp: { seconds: string; nanos?: number }) => new Date(Number(timestamp.seconds) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6));

  /** A message as the message center stores it, written directly: faster than producing, and exact in time. */
  async function insertMessage(options: {
    userId: string;
    type?: string;
    at: Date;
    deliveries?: DeliverySeed[];
    requestId?: string;
    data?: Record<string, unknown>;
    contents?: Record<string, { title: string; body: string }>;
  }): Promise<{ id: string; requestId: string; deliveryIds: string[] }> {
    const id = newId(options.at);
    const requestId = options.requestId ?? `q-${run}-${id}`;
    await db.query(
      `INSERT INTO request_keys (request_id, message_id, created_at) VALUES ($1, $2, $3)`,
      [requestId, id, options.at],
    );
    await db.query(
      `INSERT INTO messages (id, request_id, type, recipient, data, contents, locale, priority, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'en', 'normal', $7)`,
      [
        id,
        requestId,
        options.type ?? `query.${run}`,
        { userId: options.userId },
        options.data ?? { n: 1, nested: { ok: true }, list: ['a', null] },
        options.contents ?? { en: { title: 'Hello', body: 'World' } },
        options.at,
      ],
    );
    const seeds = options.deliveries ?? [{}];
    const deliveryIds = seeds.map(() => newId(options.at));
    await db.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, attempts, last_error, created_at)
       SELECT i, $2, u, c, e, 'en', t, s, a, l, $3
         FROM unnest($1::uuid[], $4::varchar[], $5::varchar[], $6::varchar[], $7::smallint[], $8::varchar[], $9::int[], $10::text[]) AS x(i, u, c, e, t, s, a, l)`,
      [
        deliveryIds,
        id,
        options.at,
        seeds.map((s) => (s.userId === undefined ? options.userId : s.userId)),
        seeds.map((s) => s.channel ?? 'websocket'),
        seeds.map((s, i) => s.endpoint ?? `inbox:${s.userId ?? options.userId}:${i}`),
        seeds.map((s) => s.tier ?? 0),
        seeds.map((s) => s.status ?? 'delivered'),
        seeds.map((s) => s.attempts ?? 1),
        seeds.map((s) => s.lastError ?? null),
      ],
    );
    return { id, requestId, deliveryIds };
  }

  describe('health and keys', () => {
    it('answers the standard health check as SERVING, for the server and each notify.v1 service', async () => {
      for (const service of ['', 'notify.v1.MessageQuery', 'notify.v1.Recipients']) {
        expect(await call(healthClient, 'Check', { service }, null)).toEqual({ status: 'SERVING' });
      }
    });

    it('tells a Watch stream NOT_SERVING as it shuts down, and stops although the stream is still open', async () => {
      const stopping = await startQueryApi(loadQueryApiConfig(env), createLogger('e2e', 'warn'));
      const watcher = new Health(`127.0.0.1:${grpcPortOf(stopping)}`, credentials.createInsecure());
      try {
        const stream = (watcher as unknown as { Watch(request: object): NodeJS.ReadableStream }).Watch({ service: '' });
        const statuses: string[] = [];
        stream.on('data', (answer: Reply) => void statuses.push(answer.status));
        const ended = new Promise<void>((done) => {
          stream.on('error', () => done());
          stream.on('end', () => done());
        });
        await eventually(async () => statuses, (seen) => seen.includes('SERVING'));
        // Without an end to the open stream, a graceful shutdown waited for it for ever.
        await stopping.close();
        await ended;
        expect(statuses).toEqual(['SERVING', 'NOT_SERVING']);
      } finally {
        watcher.close();
      }
    });

    it('serves reflection: a generic tool lists the services and fetches their descriptors without the .proto files', async () => {
      const [listed, described, unknown] = await reflect([
        { listServices: '' },
        { fileContainingSymbol: 'notify.v1.MessageQuery' },
        { fileContainingSymbol: 'notify.v1.NoSuchService' },
      ]);
      expect(listed!.listServicesResponse.service.map((s: { name: string }) => s.name).sort()).toEqual(
        ['grpc.health.v1.Health', 'notify.v1.MessageQuery', 'notify.v1.Recipients'].sort(),
      );
      // Serialized FileDescriptorProtos: the package's own (named per package by @grpc/reflection) and its imports.
      const files = (described!.fileDescriptorResponse.fileDescriptorProto as Buffer[]).map((file) => file.toString('latin1'));
      expect(files.some((file) => file.includes('notify.v1') && file.includes('ListMessages') && file.includes('GetStats'))).toBe(true);
      expect(files.some((file) => file.includes('google.protobuf') && file.includes('Struct'))).toBe(true);
      expect(unknown!.errorResponse.errorCode).toBe(status.NOT_FOUND);
    });

    it('refuses a call without a key, with an unknown key and with a revoked key as UNAUTHENTICATED', async () => {
      const request = { userId: `nobody-${run}` };
      expect(await failure(query('ListMessages', request, null))).toEqual({ code: 'UNAUTHENTICATED', details: 'missing x-api-key metadata' });
      expect(await failure(query('ListMessages', request, 'nq_made-up'))).toEqual({ code: 'UNAUTHENTICATED', details: 'unknown or revoked API key' });
      expect(await failure(query('ListMessages', request, keys.revoked))).toEqual({ code: 'UNAUTHENTICATED', details: 'unknown or revoked API key' });
      expect(await failure(recipients('GetRecipient', request, keys.revoked))).toMatchObject({ code: 'UNAUTHENTICATED' });
    });

    it('refuses a key outside its scopes as PERMISSION_DENIED, and lets each key do what its scope allows', async () => {
      const userId = `scoped-${run}`;
      expect(await failure(recipients('GetRecipient', { userId }, keys.query))).toEqual({
        code: 'PERMISSION_DENIED',
        details: `the API key "query-${run}" does not have the recipients scope`,
      });
      expect(await failure(query('ListMessages', { userId }, keys.recipients))).toMatchObject({ code: 'PERMISSION_DENIED' });
      expect(await query('ListMessages', { userId }, keys.query)).toEqual({ messages: [] });
      expect(await recipients('Subscribe', { userId, topic: 'news' }, keys.recipients)).toMatchObject({ userId, topics: ['news'] });
    });

    it('accepts BOOTSTRAP_API_KEY with every scope', async () => {
      const userId = `boot-${run}`;
      expect(await recipients('Subscribe', { userId, topic: 'news' }, bootstrapKey)).toMatchObject({ topics: ['news'] });
      expect(await query('ListMessages', { userId }, bootstrapKey)).toEqual({ messages: [] });
    });
  });

  describe('MessageQuery', () => {
    it('GetMessage returns the message with every delivery and attempt', async () => {
      const at = new Date(Date.now() - 60_000);
      const { id, requestId, deliveryIds } = await insertMessage({
        userId: `get-${run}`,
        at,
        deliveries: [
          { channel: 'websocket', endpoint: `inbox:get-${run}`, status: 'failed', attempts: 2, lastError: 'ack_timeout' },
          { channel: 'push', endpoint: `apns:get-${run}/phone`, status: 'held', attempts: 0, tier: 1 },
        ],
      });
      await db.query(`UPDATE deliveries SET status = 'delivered', delivered_at = $2 WHERE id = $1`, [deliveryIds[1], new Date(at.getTime() + 5000)]);

      const message = await query('GetMessage', { id });

      expect(message).toMatchObject({
        id,
        requestId,
        type: `query.${run}`,
        locale: 'en',
        priority: 'normal',
        contents: [{ locale: 'en', title: 'Hello', body: 'World' }],
      });
      expect(dateOf(message.createdAt)).toEqual(at);
      expect(message.recipient.fields.userId).toMatchObject({ stringValue: `get-${run}` });
      expect(message.data.fields.nested.structValue.fields.ok).toMatchObject({ boolValue: true });
      expect(message.data.fields.list.listValue.values).toEqual([expect.objectContaining({ stringValue: 'a' }), expect.objectContaining({ nullValue: 'NULL_VALUE' })]);
      // By channel, then endpoint.
      expect(message.deliveries).toHaveLength(2);
      expect(message.deliveries[1]).toMatchObject({ id: deliveryIds[0], channel: 'websocket', endpoint: `inbox:get-${run}`, status: 'failed', attempts: 2, lastError: 'ack_timeout' });
      expect(message.deliveries[1].deliveredAt).toBeUndefined();
      expect(message.deliveries[0]).toMatchObject({ id: deliveryIds[1], channel: 'push', endpoint: `apns:get-${run}/phone`, status: 'delivered', tier: 1 });
      expect(dateOf(message.deliveries[0].deliveredAt)).toEqual(new Date(at.getTime() + 5000));
      expect(dateOf(message.deliveries[0].createdAt)).toEqual(at);
      expect(message.nextDeliveriesPageToken).toBeUndefined();
    });

    it('GetMessage of a message sent to many gives its first 1,000 deliveries and a token; ListDeliveries pages through the rest', async () => {
      const seeds: DeliverySeed[] = Array.from({ length: 2_345 }, (_, i) => ({ userId: `many-${run}-${i}`, endpoint: `inbox:many-${run}-${i}` }));
      // A bare phone number's delivery (no user) and a user's to the same number: the user's comes first, as the index has them.
      seeds.push({ userId: null, channel: 'sms', endpoint: '+15550100999' }, { userId: `many-${run}-sms`, channel: 'sms', endpoint: '+15550100999' });
      const { id, requestId } = await insertMessage({ userId: `many-${run}-0`, at: new Date(Date.now() - 20_000), deliveries: seeds });
      const { rows } = await db.query(
        `SELECT id FROM deliveries WHERE message_id = $1 ORDER BY channel, endpoint, user_id`,
        [id],
      );
      const inOrder = rows.map((row: { id: string }) => row.id);

      const message = await query('GetMessage', { id });
      expect(message.deliveries.map((d: Reply) => d.id)).toEqual(inOrder.slice(0, 1_000));
      expect(message.deliveries.slice(0, 2).map((d: Reply) => d.userId)).toEqual([`many-${run}-sms`, '']);
      expect(message.nextDeliveriesPageToken).toEqual(expect.any(String));
      expect((await query('GetMessageByRequestId', { requestId })).nextDeliveriesPageToken).toBe(message.nextDeliveriesPageToken);

      const seen: string[] = message.deliveries.map((d: Reply) => d.id);
      let pageToken: string = message.nextDeliveriesPageToken;
      const sizes: number[] = [];
      for (const pageSize of [1, 2, 600, 0, 1_000]) {
        if (!pageToken) break;
        const page = await query('ListDeliveries', { messageId: id, pageSize, pageToken });
        sizes.push(page.deliveries.length);
        seen.push(...page.deliveries.map((d: Reply) => d.id));
        pageToken = page.nextPageToken ?? '';
      }
      expect(sizes).toEqual([1, 2, 600, 100, 644]);
      expect(pageToken).toBe('');
      expect(seen).toEqual(inOrder);

      // From the start, and the end of a message with few deliveries.
      const first = await query('ListDeliveries', { messageId: id, pageSize: 3 });
      expect(first.deliveries.map((d: Reply) => d.id)).toEqual(inOrder.slice(0, 3));
      // One by one over the user's delivery to the number, the one without a user, and the next endpoint.
      const oneByOne: string[] = [];
      for (let token: string | undefined, i = 0; i < 3; i++) {
        const page = await query('ListDeliveries', { messageId: id, pageSize: 1, ...(token ? { pageToken: token } : {}) });
        oneByOne.push(...page.deliveries.map((d: Reply) => d.id));
        token = page.nextPageToken;
      }
      expect(oneByOne).toEqual(inOrder.slice(0, 3));
      const few = await insertMessage({ userId: `few-${run}`, at: new Date(Date.now() - 10_000) });
      expect(await query('ListDeliveries', { messageId: few.id })).toEqual({ deliveries: [expect.objectContaining({ id: few.deliveryIds[0] })] });

      // A token names its message: it is refused for another one. An unknown message is NOT_FOUND.
      expect(await failure(query('ListDeliveries', { messageId: few.id, pageToken: message.nextDeliveriesPageToken }))).toEqual({
        code: 'INVALID_ARGUMENT',
        details: 'pageToken: not issued for this query',
      });
      expect(await failure(query('ListDeliveries', { messageId: newId(new Date()) }))).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('GetMessageByRequestId returns the same message; unknown ids are NOT_FOUND', async () => {
      const { id, requestId } = await insertMessage({ userId: `byreq-${run}`, at: new Date(Date.now() - 30_000) });
      expect(await query('GetMessageByRequestId', { requestId })).toEqual(await query('GetMessage', { id }));

      expect(await failure(query('GetMessageByRequestId', { requestId: `missing-${run}` }))).toEqual({ code: 'NOT_FOUND', details: `request missing-${run} not found` });
      expect(await failure(query('GetMessage', { id: newId(new Date()) }))).toMatchObject({ code: 'NOT_FOUND' });
      expect(await failure(query('GetMessage', { id: '5d8f6a3e-1b2c-4d5e-8f90-123456789abc' }))).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('ListMessages pages newest first with no duplicates or gaps while new messages arrive', async () => {
      const userId = `pages-${run}`;
      const start = Date.now() - 3_600_000;
      const existing: { id: string; at: number }[] = [];
      for (let i = 0; i < 23; i++) {
        const at = start + i * 1000;
        existing.push({ id: (await insertMessage({ userId, at: new Date(at), deliveries: [{}, { channel: 'push', endpoint: `fcm:${userId}/d` }] })).id, at });
      }
      // Two messages in the same millisecond: the id breaks the tie.
      for (let i = 0; i < 2; i++) existing.push({ id: (await insertMessage({ userId, at: new Date(start + 10_500) })).id, at: start + 10_500 });
      // Another user's delivery of a shared message is not shown.
      const shared = await insertMessage({ userId, at: new Date(start + 500), deliveries: [{}, { userId: `other-${run}` }] });
      existing.push({ id: shared.id, at: start + 500 });
      const expected = existing.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).map((m) => m.id);

      const seen: Reply[] = [];
      let pageToken = '';
      let pages = 0;
      do {
        const page = await query('ListMessages', { userId, pageSize: 7, pageToken });
        seen.push(...(page.messages ?? []));
        pageToken = page.nextPageToken ?? '';
        pages += 1;
        await insertMessage({ userId, at: new Date() });
      } while (pageToken && pages < 20);

      const newOnes = seen.filter((m) => !expected.includes(m.id));
      expect(newOnes).toEqual([]);
      expect(seen.map((m) => m.id)).toEqual(expected);
      expect(pages).toBe(4);
      expect(seen.find((m) => m.id === shared.id)!.deliveries.map((d: Reply) => d.userId)).toEqual([userId]);
      expect(seen[0].deliveries).toHaveLength(2);
    });

    it('ListMessages ends a page of large messages early, so that no answer is over what a client takes (4 MiB)', async () => {
      const userId = `large-${run}`;
      const start = Date.now() - 7_200_000;
      const large = { data: { note: 'x'.repeat(60_000) }, contents: Object.fromEntries(['de', 'en', 'fr'].map((l) => [l, { title: l, body: 'y'.repeat(60_000) }])) };
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.unshift((await insertMessage({ userId, at: new Date(start + i * 1000), ...large })).id);

      const pages: string[][] = [];
      let pageToken = '';
      do {
        // The test's client keeps grpc-js's default limit on what it receives: 4 MiB.
        const page = await query('ListMessages', { userId, pageSize: 200, pageToken });
        pages.push((page.messages ?? []).map((m: Reply) => m.id));
        expect(page.messages.every((m: Reply) => m.data.fields.note.stringValue.length === 60_000 && m.contents.length === 3)).toBe(true);
        pageToken = page.nextPageToken ?? '';
      } while (pageToken && pages.length < 30);

      expect(pages.flat()).toEqual(ids);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.every((page) => page.length > 0)).toBe(true);
    });

    it('ListMessages filters by delivery status, type and time range', async () => {
      const userId = `filters-${run}`;
      const base = Date.now() - 7_200_000;
      const a = await insertMessage({ userId, at: new Date(base), type: `alpha.${run}`, deliveries: [{ status: 'failed' }] });
      const b = await insertMessage({ userId, at: new Date(base + 1000), type: `beta.${run}`, deliveries: [{ status: 'delivered' }, { channel: 'push', status: 'failed' }] });
      const c = await insertMessage({ userId, at: new Date(base + 2000), type: `alpha.${run}`, deliveries: [{ status: 'clicked' }] });
      const ids = async (request: Record<string, unknown>) => ((await query('ListMessages', { userId, ...request })).messages ?? []).map((m: Reply) => m.id);

      expect(await ids({})).toEqual([c.id, b.id, a.id]);
      expect(await ids({ status: 'failed' })).toEqual([b.id, a.id]);
      expect(await ids({ type: `alpha.${run}` })).toEqual([c.id, a.id]);
      expect(await ids({ type: `alpha.${run}`, status: 'failed' })).toEqual([a.id]);
      expect(await ids({ since: seconds(new Date(base + 1000)) })).toEqual([c.id, b.id]);
      expect(await ids({ until: seconds(new Date(base + 1000)) })).toEqual([a.id]);
      expect(await ids({ since: seconds(new Date(base + 500)), until: seconds(new Date(base + 1500)) })).toEqual([b.id]);
      expect(await ids({ status: 'dead' })).toEqual([]);
    });

    it('ListMessages keeps filters across pages, and a page token works only for the query it was issued for', async () => {
      const userId = `tokens-${run}`;
      const base = Date.now() - 9_000_000;
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await insertMessage({ userId, at: new Date(base + i * 1000), type: i % 2 ? `odd.${run}` : `even.${run}` }));
      const first = await query('ListMessages', { userId, type: `even.${run}`, pageSize: 2 });
      expect(first.messages.map((m: Reply) => m.id)).toEqual([made[4]!.id, made[2]!.id]);
      const second = await query('ListMessages', { userId, type: `even.${run}`, pageSize: 2, pageToken: first.nextPageToken });
      expect(second.messages.map((m: Reply) => m.id)).toEqual([made[0]!.id]);
      expect(second.nextPageToken).toBeUndefined();

      const token = first.nextPageToken as string;
      const refused = { code: 'INVALID_ARGUMENT', details: 'pageToken: not issued for this query' };
      expect(await failure(query('ListMessages', { userId: `someone-else-${run}`, type: `even.${run}`, pageToken: token }))).toEqual(refused);
      expect(await failure(query('ListMessages', { userId, pageToken: token }))).toEqual(refused);
      expect(await failure(query('ListMessages', { userId, type: `even.${run}`, status: 'failed', pageToken: token }))).toEqual(refused);
      const [body, signature] = token.split('.');
      const forgedBody = Buffer.from(JSON.stringify(['2999-01-01T00:00:00.000000Z', made[4]!.id])).toString('base64url');
      expect(await failure(query('ListMessages', { userId, type: `even.${run}`, pageToken: `${forgedBody}.${signature}` }))).toEqual(refused);
      expect(await failure(query('ListMessages', { userId, type: `even.${run}`, pageToken: body }))).toEqual({ code: 'INVALID_ARGUMENT', details: 'pageToken: malformed' });
    });

    it('GetStats agrees with the rows as outcomes are written, by type, by day and by request', async () => {
      const type = `stats.${run}`;
      const day1 = new Date('2031-03-01T08:00:00Z');
      const day2 = new Date('2031-03-02T20:00:00Z');
      const messages = [];
      for (let i = 0; i < 12; i++) {
        messages.push(
          await insertMessage({
            userId: `stats-${run}-${i}`,
            type,
            at: new Date((i % 2 ? day2 : day1).getTime() + i),
            deliveries: [{ status: 'queued', attempts: 0 }, { channel: 'push', status: i % 4 === 0 ? 'dead' : 'held', attempts: 0, lastError: i % 4 === 0 ? 'no_endpoint' : null }],
          }),
        );
      }
      const websocket = messages.map((m) => m.deliveryIds[0]!);
      const push = messages.map((m) => m.deliveryIds[1]!);
      // What the outcome writers do, one multi-row statement per batch, from several connections at once.
      const writers = await Promise.all([0, 1, 2].map(async () => {
        const writer = new PgClient({ connectionString: process.env.DATABASE_URL });
        await writer.connect();
        return writer;
      }));
      try {
        const claim = (writer: PgClient, ids: string[]) =>
          writer.query(`UPDATE deliveries SET status = 'sent', attempts = attempts + 1, updated_at = now() WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'held')`, [ids]);
        const record = (writer: PgClient, ids: string[], outcome: string) =>
          writer.query(`UPDATE deliveries d SET status = o.status, updated_at = now() FROM unnest($1::uuid[], $2::varchar[]) AS o(id, status) WHERE d.id = o.id`, [ids, ids.map(() => outcome)]);
        await Promise.all([claim(writers[0]!, websocket.slice(0, 6)), claim(writers[1]!, websocket.slice(6)), claim(writers[2]!, push.filter((_, i) => i % 4 === 1))]);
        await Promise.all([
          record(writers[0]!, websocket.slice(0, 8), 'delivered'),
          record(writers[1]!, websocket.slice(8, 10), 'failed'),
          record(writers[2]!, websocket.slice(10), 'dead'),
        ]);
        await Promise.all([record(writers[0]!, websocket.slice(0, 4), 'read'), record(writers[1]!, push.filter((_, i) => i % 4 === 1), 'delivered')]);
        // Two failed ones are retried: the resend poller claims both again under a lease, and one is
        // sent on its second attempt. A retry in flight still counts as failed until its outcome.
        await writers[0]!.query(`UPDATE deliveries SET status = 'queued', next_attempt_at = now() + interval '1 minute' WHERE id = ANY($1::uuid[])`, [websocket.slice(8, 10)]);
        await claim(writers[1]!, websocket.slice(9, 10));
        await record(writers[2]!, websocket.slice(0, 2), 'clicked');
        await record(writers[0]!, push.filter((_, i) => i % 4 === 1).slice(0, 1), 'clicked');
        await writers[1]!.query(`UPDATE deliveries SET seq = 7 WHERE id = ANY($1::uuid[])`, [websocket]);
      } finally {
        await Promise.all(writers.map((w) => w.end()));
      }

      const fromRows = async (where: string, params: unknown[]) => {
        const { rows } = await db.query(
          `SELECT (SELECT count(*) FROM messages m WHERE ${where.replaceAll('d.created_at', 'm.created_at')}) AS requested,
                  count(*) FILTER (WHERE d.attempts > 0) AS sent,
                  count(*) FILTER (WHERE d.status IN ('delivered', 'read', 'clicked')) AS delivered,
                  count(*) FILTER (WHERE d.status = 'failed' OR (d.status = 'queued' AND d.attempts > 0 AND d.next_attempt_at IS NOT NULL) OR (d.status = 'sent' AND d.attempts > 1 AND d.next_attempt_at IS NOT NULL)) AS failed,
                  count(*) FILTER (WHERE d.status = 'dead') AS dead,
                  count(*) FILTER (WHERE d.status IN ('read', 'clicked')) AS read,
                  count(*) FILTER (WHERE d.status = 'clicked') AS clicked
             FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at
            WHERE ${where}`,
          params,
        );
        const counts = Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, String(v)]));
        return { ...counts, clickThroughRate: Number(counts.delivered) === 0 ? 0 : Number(counts.clicked) / Number(counts.delivered) };
      };
      // proto3 leaves zeros off the wire.
      const zeros = { requested: '0', sent: '0', delivered: '0', failed: '0', dead: '0', read: '0', clicked: '0', clickThroughRate: 0 };
      const stats = async (request: Record<string, unknown>) => ({ ...zeros, ...(await query('GetStats', request)) });

      const all = await fromRows('m.type = $1', [type]);
      expect(all).toEqual({ requested: '12', sent: '15', delivered: '11', failed: '2', dead: '5', read: '5', clicked: '3', clickThroughRate: 3 / 11 });
      expect(await stats({ type })).toEqual(all);
      expect(await stats({ type, since: seconds(new Date('2031-03-02T00:00:00Z')), until: seconds(new Date('2031-03-03T00:00:00Z')) })).toEqual(
        await fromRows(`m.type = $1 AND d.created_at >= '2031-03-02' AND d.created_at < '2031-03-03'`, [type]),
      );
      const one = messages[0]!;
      expect(await stats({ requestId: one.requestId })).toEqual(await fromRows('m.request_id = $1', [one.requestId]));
      expect(await stats({ requestId: one.requestId, type: 'some.other.type' })).toEqual(zeros);
      // the earliest instant a Timestamp can name: nothing before it, and no year 0 to look in
      expect(await stats({ type, until: { seconds: '-62135596800' } })).toEqual(zeros);

      // Partition maintenance moves these rows out of the default partition; that is not an outcome.
      await maintainPartitions(admin, { now: new Date('2031-03-02T12:00:00Z'), daysAhead: 1, retentionDays: 36_500 });
      const { rows: moved } = await db.query(`SELECT tableoid::regclass::text AS partition FROM deliveries WHERE id = $1`, [websocket[1]]);
      expect(moved).toEqual([{ partition: 'deliveries_p20310224' }]); // the week from Monday 24 February
      expect(await stats({ type })).toEqual(all);

      // Retention forgets a request id, and its counters with it.
      await db.query(`DELETE FROM request_keys WHERE request_id = $1`, [one.requestId]);
      const { rows: left } = await db.query(`SELECT count(*)::int AS n FROM request_delivery_stats WHERE request_id = $1`, [one.requestId]);
      expect(left).toEqual([{ n: 0 }]);
    });
  });

  describe('validation', () => {
    const long = 'x'.repeat(129);
    const cases: [service: 'query' | 'recipients', method: string, request: Record<string, unknown>, field: string][] = [
      ['query', 'GetMessage', {}, 'id'],
      ['query', 'GetMessage', { id: 'not-a-uuid' }, 'id'],
      ['query', 'GetMessageByRequestId', {}, 'requestId'],
      ['query', 'GetMessageByRequestId', { requestId: 'has spaces' }, 'requestId'],
      ['query', 'GetMessageByRequestId', { requestId: long }, 'requestId'],
      ['query', 'ListMessages', {}, 'userId'],
      ['query', 'ListMessages', { userId: long }, 'userId'],
      ['query', 'ListMessages', { userId: 'u', status: 'lost' }, 'status'],
      ['query', 'ListMessages', { userId: 'u', type: long }, 'type'],
      ['query', 'ListMessages', { userId: 'u', pageSize: 201 }, 'pageSize'],
      ['query', 'ListMessages', { userId: 'u', pageSize: -1 }, 'pageSize'],
      ['query', 'ListMessages', { userId: 'u', since: { seconds: '-99999999999' } }, 'since'],
      ['query', 'ListMessages', { userId: 'u', until: { seconds: '1', nanos: -1 } }, 'until'],
      ['query', 'ListMessages', { userId: 'u', since: { seconds: '2000' }, until: { seconds: '1000' } }, 'until'],
      ['query', 'ListMessages', { userId: 'u', pageToken: 'garbage' }, 'pageToken'],
      ['query', 'ListMessages', { userId: 'u', pageToken: 'y'.repeat(1025) }, 'pageToken'],
      ['query', 'ListDeliveries', {}, 'messageId'],
      ['query', 'ListDeliveries', { messageId: 'not-a-uuid' }, 'messageId'],
      ['query', 'ListDeliveries', { messageId: '019aa9b5-1f2e-7c3d-8e4f-0123456789ab', pageSize: 1001 }, 'pageSize'],
      ['query', 'ListDeliveries', { messageId: '019aa9b5-1f2e-7c3d-8e4f-0123456789ab', pageToken: 'garbage' }, 'pageToken'],
      ['query', 'GetStats', { requestId: 'bad id' }, 'requestId'],
      ['query', 'GetStats', { type: long }, 'type'],
      ['query', 'GetStats', { since: { seconds: '2000' }, until: { seconds: '2000' } }, 'until'],
      ['query', 'GetStats', { until: { seconds: '999999999999' } }, 'until'],
      ['recipients', 'UpsertRecipient', {}, 'userId'],
      ['recipients', 'UpsertRecipient', { userId: 'u', phone: '12345' }, 'phone'],
      ['recipients', 'UpsertRecipient', { userId: 'u', email: 'not-an-email' }, 'email'],
      ['recipients', 'UpsertRecipient', { userId: 'u', locale: 'x' }, 'locale'],
      ['recipients', 'UpsertRecipient', { userId: 'u', locale: 'Chinese (China)' }, 'locale'],
      ['recipients', 'RegisterDevice', { userId: 'u', deviceId: 'd', provider: 'fcm', token: 't', locale: 'zh CN' }, 'locale'],
      ['recipients', 'UpsertRecipient', { userId: 'u', timezone: 'z'.repeat(65) }, 'timezone'],
      ['recipients', 'UpsertRecipient', { userId: 'u', timezone: 'Mars/Olympus_Mons' }, 'timezone'],
      ['recipients', 'RegisterDevice', { userId: 'u', deviceId: 'd', provider: 'blackberry', token: 't' }, 'provider'],
      ['recipients', 'RegisterDevice', { userId: 'u', deviceId: 'd', provider: 'fcm' }, 'token'],
      ['recipients', 'RegisterDevice', { userId: 'u', provider: 'fcm', token: 't' }, 'deviceId'],
      ['recipients', 'RegisterDevice', { userId: 'u', deviceId: 'd', provider: 'fcm', token: 't', locale: 'x' }, 'locale'],
      ['recipients', 'RemoveDevice', { userId: 'u' }, 'deviceId'],
      ['recipients', 'RemoveDevice', { deviceId: 'd' }, 'userId'],
      ['recipients', 'Subscribe', { userId: 'u' }, 'topic'],
      ['recipients', 'Unsubscribe', { userId: 'u', topic: long }, 'topic'],
      ['recipients', 'GetRecipient', {}, 'userId'],
      ['recipients', 'GetRecipient', { userId: long }, 'userId'],
      ['recipients', 'RemoveRecipient', {}, 'userId'],
      ['recipients', 'RemoveRecipient', { userId: long }, 'userId'],
      ['recipients', 'UpsertRecipient', { userId: 'u', phone: '+8613800000000', clear: ['phone'] }, 'clear'],
      ['recipients', 'UpsertRecipient', { userId: 'u', clear: ['name'] }, 'clear.0'],
      // U+0000 is a valid protobuf string and text PostgreSQL cannot store.
      ['query', 'ListMessages', { userId: 'u\u0000' }, 'userId'],
      ['query', 'GetStats', { type: 'x\u0000' }, 'type'],
      ['recipients', 'RegisterDevice', { userId: 'u', deviceId: 'a\u0000', provider: 'fcm', token: 't' }, 'deviceId'],
      ['recipients', 'GetRecipient', { userId: 'a\u0000' }, 'userId'],
    ];

    it.each(cases.map(([service, method, request, field]) => ({ service, method, request, field })))(
      '$method with a bad $field is INVALID_ARGUMENT naming it (case $#)',
      async ({ service, method, request, field }) => {
      const attempt = service === 'query' ? query(method, request) : recipients(method, request);
      const { code, details } = await failure(attempt);
      expect(code).toBe('INVALID_ARGUMENT');
      expect(details.split('; ').map((problem) => problem.split(':')[0])).toEqual([field]);
      },
    );

    it('names every bad field at once, a reversed time range among them', async () => {
      const reversed = { since: { seconds: '2000' }, until: { seconds: '1000' } };
      const fields = async (attempt: Promise<unknown>) => (await failure(attempt)).details.split('; ').map((problem) => problem.split(':')[0]);
      // A missing field stops zod's checks of the whole request unless they are told to go on.
      expect(await fields(query('ListMessages', { pageSize: 201, ...reversed }))).toEqual(['userId', 'pageSize', 'until']);
      expect(await fields(query('GetStats', { type: long, ...reversed }))).toEqual(['type', 'until']);
    });
  });

  describe('Recipients', () => {
    it('applies each operation of contract section 2 and answers with the recipient as it now stands', async () => {
      const userId = `rec-${run}`;
      expect(await failure(recipients('GetRecipient', { userId }))).toEqual({ code: 'NOT_FOUND', details: `recipient ${userId} not found` });

      const upserted = await recipients('UpsertRecipient', { userId, phone: '+8613800000000', email: 'r@example.com', locale: 'zh-CN', timezone: 'Asia/Shanghai' });
      expect(upserted).toMatchObject({ userId, phone: '+8613800000000', email: 'r@example.com', locale: 'zh-CN', timezone: 'Asia/Shanghai' });
      expect(await recipients('UpsertRecipient', { userId, locale: 'en-US' })).toMatchObject({ phone: '+8613800000000', locale: 'en-US' });
      // Java's form of a locale is the tag it means.
      expect(await recipients('UpsertRecipient', { userId, locale: 'zh_TW' })).toMatchObject({ locale: 'zh-TW' });
      // A user who removed their phone number: cleared, the rest kept (an empty field keeps its value).
      const cleared = await recipients('UpsertRecipient', { userId, clear: ['phone', 'timezone'] });
      expect([cleared.phone, cleared.email, cleared.locale, cleared.timezone]).toEqual(['', 'r@example.com', 'zh-TW', '']);
      expect((await db.query('SELECT phone, timezone FROM recipients WHERE user_id = $1', [userId])).rows).toEqual([{ phone: null, timezone: null }]);
      expect(await recipients('UpsertRecipient', { userId, phone: '+8613800000001' })).toMatchObject({ phone: '+8613800000001' });

      const registered = await recipients('RegisterDevice', { userId, deviceId: 'ipad-1', provider: 'apns', token: 'token-ipad-1', locale: 'en-US' });
      expect(registered.devices).toEqual([expect.objectContaining({ deviceId: 'ipad-1', provider: 'apns', locale: 'en-US', active: true })]);
      expect(JSON.stringify(registered)).not.toContain('token-ipad-1');
      await recipients('RegisterDevice', { userId, deviceId: 'pixel', provider: 'fcm', token: 'token-pixel' });
      await recipients('Subscribe', { userId, topic: 'promotions' });
      await recipients('Subscribe', { userId, topic: 'alerts' });

      const full = await recipients('GetRecipient', { userId });
      expect(full.devices.map((d: Reply) => d.deviceId)).toEqual(['ipad-1', 'pixel']);
      expect(full.topics).toEqual(['alerts', 'promotions']);
      const { rows } = await db.query('SELECT device_id, token FROM devices WHERE user_id = $1 ORDER BY device_id', [userId]);
      expect(rows).toEqual([{ device_id: 'ipad-1', token: 'token-ipad-1' }, { device_id: 'pixel', token: 'token-pixel' }]);

      expect((await recipients('RemoveDevice', { userId, deviceId: 'ipad-1' })).devices.map((d: Reply) => d.deviceId)).toEqual(['pixel']);
      expect((await recipients('Unsubscribe', { userId, topic: 'promotions' })).topics).toEqual(['alerts']);
      const { rows: subscriptions } = await db.query('SELECT topic FROM topic_subscriptions WHERE user_id = $1', [userId]);
      expect(subscriptions).toEqual([{ topic: 'alerts' }]);
    });

    it('RemoveRecipient forgets the user’s contacts, devices and topics, leaves their messages, and succeeds again for a user no longer known', async () => {
      const userId = `removed-${run}`;
      const other = `kept-${run}`;
      for (const user of [userId, other]) {
        await recipients('UpsertRecipient', { userId: user, phone: '+8613800000002', email: 'gone@example.com' });
        await recipients('RegisterDevice', { userId: user, deviceId: 'pixel', provider: 'fcm', token: `token-${user}` });
        await recipients('Subscribe', { userId: user, topic: 'news' });
      }
      await insertMessage({ userId, at: new Date() });
      const counts = async (user: string) =>
        Object.values(
          (
            await db.query(
              `SELECT (SELECT count(*)::int FROM recipients WHERE user_id = $1) AS recipients, (SELECT count(*)::int FROM devices WHERE user_id = $1) AS devices,
                      (SELECT count(*)::int FROM topic_subscriptions WHERE user_id = $1) AS topics`,
              [user],
            )
          ).rows[0],
        );

      expect(await failure(recipients('RemoveRecipient', { userId }, keys.query))).toEqual({
        code: 'PERMISSION_DENIED',
        details: `the API key "query-${run}" does not have the recipients scope`,
      });
      expect(await counts(userId)).toEqual([1, 1, 1]);

      expect(await recipients('RemoveRecipient', { userId })).toEqual({});
      expect(await failure(recipients('GetRecipient', { userId }))).toEqual({ code: 'NOT_FOUND', details: `recipient ${userId} not found` });
      expect(await counts(userId)).toEqual([0, 0, 0]);
      expect(await counts(other)).toEqual([1, 1, 1]);
      // Messages and deliveries stay until retention.
      expect((await query('ListMessages', { userId })).messages).toHaveLength(1);

      // Idempotent, also through the typed client.
      const client = NotifyQueryClient.connect({ address, apiKey: keys.recipients });
      try {
        await expect(client.removeRecipient(userId)).resolves.toBeUndefined();
        await expect(client.removeRecipient(`never-known-${run}`)).resolves.toBeUndefined();
      } finally {
        client.close();
      }
    });
  });

  describe('database role', () => {
    it('connects as the query role: it reads messages and recipients but cannot write messages or keys', async () => {
      const dataSource = app.get(DataSource);
      expect(await dataSource.query('SELECT current_user AS role')).toEqual([{ role: 'notify_query_api' }]);
      const at = new Date();
      await expect(
        dataSource.query(`INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`, [newId(at), `forbidden-${run}`, at]),
      ).rejects.toThrow(/permission denied for table messages/);
      await expect(dataSource.query(`UPDATE deliveries SET status = 'dead' WHERE false`)).rejects.toThrow(/permission denied for table deliveries/);
      await expect(dataSource.query(`DELETE FROM api_keys`)).rejects.toThrow(/permission denied for table api_keys/);
      expect(await dataSource.query(`SELECT count(*)::int AS n FROM topic_subscriptions WHERE user_id = $1`, [`boot-${run}`])).toEqual([{ n: 1 }]);
    });
  });
});
