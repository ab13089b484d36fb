import { Metadata, status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { Client } from 'pg';
import { createLogger, Metrics } from '@notify/observability';
import { createDataSource, poolOf, withSessionSettings } from '@notify/persistence';
import { eventually } from '@notify/testing';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator';
import { queryApiSession } from '../database-session';
import { API_KEY_HEADER, UnaryCalls } from './unary-calls';

const BOOTSTRAP = 'bootstrap-key-0123456789';

/** What a call whose database connection was lost answers, with pg's own errors from a real server. */
describe('UnaryCalls', () => {
  const calls = new UnaryCalls(
    new ApiKeyAuthenticator({ findActive: async () => undefined }, { bootstrapApiKey: BOOTSTRAP, apiKeyCacheMs: 0 }),
    new Metrics('unary-calls-spec'),
    createLogger('unary-calls-spec', 'silent'),
    { concurrency: 10, waitMs: 10_000 },
  );
  const metadata = new Metadata();
  metadata.set(API_KEY_HEADER, BOOTSTRAP);

  const statusOf = async (handle: () => Promise<unknown>): Promise<status> => {
    const failure = await calls.answer('ListMessages', 'query', metadata, handle).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(RpcException);
    return ((failure as RpcException).getError() as { code: status }).code;
  };

  it('answers UNAVAILABLE when the server closed the connection, also for the later query pg refuses without a code', async () => {
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    const lost: Error[] = [];
    client.on('error', (error) => void lost.push(error));
    await client.connect();
    const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      // The terminated backend's own error (SQLSTATE 57P01), or pg's "Connection terminated unexpectedly".
      expect(await statusOf(() => client.query('SELECT 1'))).toBe(status.UNAVAILABLE);
      // Once pg has seen the connection go, it refuses the dead client itself, with an error that has no code.
      await eventually(async () => lost.length, (n) => n > 0);
      const refusal = await client.query('SELECT 1').then(() => undefined, (error: { code?: string }) => error);
      expect(refusal?.code).toBeUndefined();
      expect(await statusOf(() => client.query('SELECT 1'))).toBe(status.UNAVAILABLE);
    } finally {
      await admin.end();
      await client.end().catch(() => undefined);
    }
  });

  it('answers DEADLINE_EXCEEDED for a statement past the session timeout, and UNAVAILABLE when no pooled connection frees up in time', async () => {
    const session = { ...queryApiSession('notify_query_api', 300), role: 'postgres' };
    const dataSource = await createDataSource({ databaseUrl: withSessionSettings(process.env.DATABASE_URL!, session), databasePoolSize: 1, poolWaitMs: 300 }).initialize();
    try {
      expect(await statusOf(() => dataSource.query('SELECT pg_sleep(30)'))).toBe(status.DEADLINE_EXCEEDED);
      const held = await poolOf(dataSource).connect();
      try {
        expect(await statusOf(() => dataSource.query('SELECT 1'))).toBe(status.UNAVAILABLE);
      } finally {
        held.release();
      }
      expect(await dataSource.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('answers UNAVAILABLE when the database host cannot be found or reached', async () => {
    // A name under .invalid never resolves: pg fails with the resolver's ENOTFOUND (EAI_AGAIN where no resolver answers).
    const nowhere = new Client({ host: 'database.nowhere.invalid', port: 5432, user: 'postgres', connectionTimeoutMillis: 5_000 });
    expect(await statusOf(() => nowhere.connect())).toBe(status.UNAVAILABLE);
    for (const code of ['EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']) {
      const networkError = Object.assign(new Error(`connect ${code} 10.0.0.1:5432`), { code });
      expect(await statusOf(() => Promise.reject(networkError))).toBe(status.UNAVAILABLE);
    }
  });

  it('answers INTERNAL for any other database error', async () => {
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    try {
      expect(await statusOf(() => client.query('SELEC 1'))).toBe(status.INTERNAL);
    } finally {
      await client.end();
    }
  });
});
