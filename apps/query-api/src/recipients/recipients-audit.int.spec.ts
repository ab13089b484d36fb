import { randomBytes } from 'node:crypto';
import { credentials, loadPackageDefinition, Metadata, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { INestApplication } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { loadQueryApiConfig } from '@notify/config';
import { NOTIFY_PROTO_FILES, NOTIFY_PROTO_LOADER_OPTIONS } from '@notify/contracts';
import { createLogger } from '@notify/observability';
import { ApiKeyStore, createDataSource } from '@notify/persistence';
import { grpcPortOf, startQueryApi } from '../app';

type Unary = (request: unknown, metadata: Metadata, callback: (error: ServiceError | null, reply: unknown) => void) => void;
interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

const INFO = 30;

/** The query API's Recipients writes, over a real gRPC connection, leave one audit line each in its log. */
describe('Recipients writes in the log', () => {
  const run = randomBytes(4).toString('hex');
  const keyName = `audit-${run}`;
  const readerName = `audit-reader-${run}`;
  const raw: string[] = [];
  let admin: DataSource;
  let app: INestApplication;
  let client: Client;
  let key: string;
  let readerKey: string;

  beforeAll(async () => {
    admin = await createDataSource({ databaseUrl: process.env.DATABASE_URL!, databasePoolSize: 1 }).initialize();
    const keys = new ApiKeyStore(admin);
    key = (await keys.create(keyName, ['recipients'])).key;
    readerKey = (await keys.create(readerName, ['query'])).key;
    const env = { ...process.env, QUERY_API_GRPC_PORT: '0', QUERY_API_HTTP_PORT: '0', QUERY_API_GRPC_HOST: '127.0.0.1', QUERY_API_PAGE_TOKEN_SECRET: randomBytes(32).toString('hex') };
    app = await startQueryApi(loadQueryApiConfig(env), createLogger('recipients-audit-spec', 'info', { write: (line: string) => void raw.push(line) }));
    const v1 = (loadPackageDefinition(loadSync(NOTIFY_PROTO_FILES, NOTIFY_PROTO_LOADER_OPTIONS)).notify as GrpcObject).v1 as GrpcObject;
    client = new (v1.Recipients as ServiceClientConstructor)(`127.0.0.1:${grpcPortOf(app)}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
    await admin?.destroy();
  });

  function call(method: string, request: unknown, apiKey = key): Promise<unknown> {
    const metadata = new Metadata();
    metadata.set('x-api-key', apiKey);
    const invoke = (client as unknown as Record<string, Unary>)[method]!.bind(client);
    return new Promise((done, fail) => invoke(request, metadata, (error, reply) => (error ? fail(error) : done(reply))));
  }
  /** The lines logged while `work` ran. */
  async function logged(work: () => Promise<unknown>): Promise<{ text: string; lines: LogLine[] }> {
    const from = raw.length;
    await work();
    const text = raw.slice(from).join('');
    return { text, lines: raw.slice(from).map((line) => JSON.parse(line) as LogLine) };
  }

  it('logs RemoveRecipient once at info, with the method, the user and the key’s name, and nothing personal anywhere', async () => {
    const userId = `audited-${run}`;
    const phone = '+8613800000042';
    const email = `audited-${run}@example.com`;
    const token = `push-token-${run}`;
    const { text, lines } = await logged(async () => {
      await call('UpsertRecipient', { userId, phone, email, locale: 'zh-CN' });
      await call('RegisterDevice', { userId, deviceId: 'tablet-1', provider: 'fcm', token });
      await call('Subscribe', { userId, topic: 'alerts' });
      await call('GetRecipient', { userId });
      await call('RemoveRecipient', { userId });
    });

    const removals = lines.filter((line) => line.level === INFO && JSON.stringify(line).includes('RemoveRecipient'));
    expect(removals).toHaveLength(1);
    expect(removals[0]).toMatchObject({ msg: 'recipients write: RemoveRecipient', method: 'RemoveRecipient', userId, keyName });
    // One line per write, saying what it touched without a value of a contact point; none for the read.
    expect(lines.filter((line) => line.msg.startsWith('recipients write:'))).toEqual([
      expect.objectContaining({ level: INFO, msg: 'recipients write: UpsertRecipient', userId, keyName, fields: ['phone', 'email', 'locale'], cleared: [] }),
      expect.objectContaining({ level: INFO, msg: 'recipients write: RegisterDevice', userId, keyName, deviceId: 'tablet-1', provider: 'fcm' }),
      expect.objectContaining({ level: INFO, msg: 'recipients write: Subscribe', userId, keyName, topic: 'alerts' }),
      expect.objectContaining({ level: INFO, msg: 'recipients write: RemoveRecipient', userId, keyName }),
    ]);
    for (const secret of [phone, email, token, key]) expect(text).not.toContain(secret);
  });

  it('logs every write method under its own name, and no write that was refused', async () => {
    const userId = `audited-all-${run}`;
    await call('RegisterDevice', { userId, deviceId: 'phone-1', provider: 'apns', token: `token-${run}` });
    await call('Subscribe', { userId, topic: 'news' });
    const { text, lines } = await logged(async () => {
      await call('UpsertRecipient', { userId, clear: ['phone'] });
      await call('RemoveDevice', { userId, deviceId: 'phone-1' });
      await call('Unsubscribe', { userId, topic: 'news' });
      // Refused: a key without the scope, and a request that is not valid. Neither wrote anything.
      await expect(call('RemoveRecipient', { userId }, readerKey)).rejects.toMatchObject({ details: expect.stringContaining('does not have the recipients scope') });
      await expect(call('RemoveRecipient', {})).rejects.toMatchObject({ details: expect.stringContaining('userId') });
    });

    expect(lines.filter((line) => line.msg.startsWith('recipients write:')).map(({ msg, method, keyName: name, fields, cleared, deviceId, topic }) => ({ msg, method, name, fields, cleared, deviceId, topic }))).toEqual([
      { msg: 'recipients write: UpsertRecipient', method: 'UpsertRecipient', name: keyName, fields: [], cleared: ['phone'], deviceId: undefined, topic: undefined },
      { msg: 'recipients write: RemoveDevice', method: 'RemoveDevice', name: keyName, fields: undefined, cleared: undefined, deviceId: 'phone-1', topic: undefined },
      { msg: 'recipients write: Unsubscribe', method: 'Unsubscribe', name: keyName, fields: undefined, cleared: undefined, deviceId: undefined, topic: 'news' },
    ]);
    expect(text).not.toContain(readerKey);
    expect(text).not.toContain(readerName);
  });
});
