import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Metadata, status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { Client } from 'pg';
import { createLogger, Metrics } from '@notify/observability';
import { createDataSource, poolOf, RecipientStore, withSessionSettings } from '@notify/persistence';
import { eventually } from '@notify/testing';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator';
import { queryApiSession } from '../database-session';
import { API_KEY_HEADER, UnaryCalls } from './unary-calls';

const BOOTSTRAP = 'bootstrap-key-0123456789';

/**
 * A TCP proxy in front of PostgreSQL whose `stall()` freezes the connections open through it, neither
 * answered nor closed, as a server lost in a failover leaves them; the connections opened after it go
 * through (to the server that took over).
 */
async function stallingProxy(databaseUrl: string) {
  const target = new URL(databaseUrl);
  const pairs = new Set<[Socket, Socket]>();
  const sockets = new Set<Socket>();
  const server = createServer((downstream) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    const pair: [Socket, Socket] = [downstream, upstream];
    pairs.add(pair);
    pair.forEach((socket) => sockets.add(socket));
    for (const socket of pair) socket.on('error', () => undefined).on('close', () => pair.forEach((s) => s.destroy()));
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const via = new URL(databaseUrl);
  via.hostname = '127.0.0.1';
  via.port = String((server.address() as AddressInfo).port);
  return {
    url: via.toString(),
    stall: () => {
      for (const [downstream, upstream] of pairs) {
        downstream.unpipe(upstream).pause();
        upstream.unpipe(downstream).pause();
      }
      pairs.clear();
    },
    close: () => {
      sockets.forEach((socket) => socket.destroy());
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

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
    const failure = await calls.answer('ListMessages', 'query', metadata, () => ({}), handle).then(
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

  it('answers UNAVAILABLE when the server stops answering on its pooled connections, and the next call gets a new connection', async () => {
    const proxy = await stallingProxy(process.env.DATABASE_URL!);
    const session = { ...queryApiSession('notify_query_api', 300), role: 'postgres' };
    const dataSource = await createDataSource({ databaseUrl: withSessionSettings(proxy.url, session), databasePoolSize: 1, poolWaitMs: 300, queryTimeoutMs: 300 + 1_000 }).initialize();
    try {
      expect(await dataSource.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      proxy.stall();
      // The statement timeout is the server's, which no longer answers: the pool's read timeout ends the call.
      expect(await statusOf(() => dataSource.query('SELECT 1'))).toBe(status.UNAVAILABLE);
      // The one pooled connection, still open but dead, was closed rather than lent out again.
      expect(await dataSource.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
    } finally {
      await dataSource.destroy();
      await proxy.close();
    }
  });

  it('answers UNAVAILABLE to a write refused by a read-only session, as on a primary demoted by a failover', async () => {
    const readOnly = await createDataSource({ databaseUrl: withSessionSettings(process.env.DATABASE_URL!, { default_transaction_read_only: 'on' }), databasePoolSize: 1 }).initialize();
    try {
      // SQLSTATE 25006, read_only_sql_transaction.
      expect(await statusOf(() => new RecipientStore(readOnly).apply([{ op: 'upsert', userId: 'read-only-session', locale: 'en' }]))).toBe(status.UNAVAILABLE);
    } finally {
      await readOnly.destroy();
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
