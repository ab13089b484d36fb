import { randomBytes } from 'node:crypto';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { INestApplication } from '@nestjs/common';
import { loadQueryApiConfig } from '@notify/config';
import { NOTIFY_PROTO_FILES, NOTIFY_PROTO_LOADER_OPTIONS } from '@notify/contracts';
import { createLogger } from '@notify/observability';
import { grpcPortOf, startQueryApi } from '../app';
import { MAX_REQUEST_BYTES } from './grpc-transport';

type Unary = (request: unknown, metadata: Metadata, callback: (error: ServiceError | null, reply: unknown) => void) => void;

/** The query API's gRPC server, over a real connection: what it reads of a request. */
describe('query API gRPC server', () => {
  const bootstrapKey = `bootstrap-${randomBytes(16).toString('hex')}`;
  let app: INestApplication;
  let client: Client;

  beforeAll(async () => {
    const env = { ...process.env, QUERY_API_GRPC_PORT: '0', QUERY_API_HTTP_PORT: '0', QUERY_API_GRPC_HOST: '127.0.0.1', BOOTSTRAP_API_KEY: bootstrapKey };
    app = await startQueryApi(loadQueryApiConfig(env), createLogger('grpc-transport-spec', 'silent'));
    const v1 = (loadPackageDefinition(loadSync(NOTIFY_PROTO_FILES, NOTIFY_PROTO_LOADER_OPTIONS)).notify as GrpcObject).v1 as GrpcObject;
    client = new (v1.Recipients as ServiceClientConstructor)(`127.0.0.1:${grpcPortOf(app)}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  /** The status the call was answered with. */
  function statusOf(method: string, request: unknown): Promise<string> {
    const metadata = new Metadata();
    metadata.set('x-api-key', bootstrapKey);
    const invoke = (client as unknown as Record<string, Unary>)[method]!.bind(client);
    return new Promise((done) => invoke(request, metadata, (error) => done(status[error ? error.code : status.OK])));
  }

  it('answers RESOURCE_EXHAUSTED to a request larger than it reads, and takes the largest valid one', async () => {
    expect(await statusOf('GetRecipient', { userId: 'u'.repeat(MAX_REQUEST_BYTES) })).toBe('RESOURCE_EXHAUSTED');
    // A push token and ids at their longest, in characters of three bytes each.
    const userId = `大${randomBytes(4).toString('hex')}`.padEnd(128, '大');
    expect(await statusOf('RegisterDevice', { userId, deviceId: '设'.repeat(128), provider: 'fcm', token: '令'.repeat(4096) })).toBe('OK');
  });
});
