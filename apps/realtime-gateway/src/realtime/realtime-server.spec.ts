import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpAdapterHost } from '@nestjs/core';
import type { Socket } from 'socket.io-client';
import type { InboxMessage } from '@notify/contracts';
import { createLogger, HealthRegistry } from '@notify/observability';
import { TokenVerifier } from '../auth/token-verifier';
import { acknowledgingBrowser } from '../testing/browsers';
import type { InboxRequests } from './inbox-requests';
import { RealtimeServer, type RealtimeSettings } from './realtime-server';

const logger = createLogger('realtime-server-spec', 'silent');
const SECRET = 'a-test-secret-of-at-least-32-chars';
/** The reconnect window of these gateways: short, for the tests' sake (7 s by default). */
const WINDOW_MS = 1_500;
/** Far beyond any test: only acknowledgements, or nobody connected, end an emit. */
const ACK_TIMEOUT_MS = 120_000;

/** The browsers here ask for nothing: the inbox's requests are not needed. */
const noRequests = { attach: () => undefined, storeWaitingReads: async () => undefined } as unknown as InboxRequests;

function message(id: string): InboxMessage {
  return { id, seq: 1, type: 'account.note', title: 't', body: 'b', data: {}, createdAt: new Date().toISOString() };
}

/**
 * A round trip on the browser's own connection: the main namespace, which refuses it. What the
 * gateway had sent on that connection before arrives before the refusal.
 */
async function roundTrip(socket: Socket): Promise<void> {
  const main = socket.io.socket('/');
  await new Promise<void>((resolve) => {
    main.once('connect_error', () => resolve());
    main.connect();
  });
  main.close();
}

describe('RealtimeServer: a gateway that has just started, without a cluster', () => {
  let http: HttpServer | undefined;
  let server: RealtimeServer | undefined;
  const sockets: Socket[] = [];

  /**
   * A gateway as NestJS starts one: its bootstrap (where the Kafka consumer starts too) before the
   * port is bound; `listen` binds it.
   */
  function gateway(settings: Partial<RealtimeSettings> = {}) {
    const httpServer = createServer();
    http = httpServer;
    const realtime = new RealtimeServer(
      { httpAdapter: { getHttpServer: () => httpServer } } as unknown as HttpAdapterHost,
      new TokenVerifier({ jwtSecret: SECRET }),
      noRequests,
      { allowedOrigins: [], maxHttpBufferSize: 1_000_000, ackTimeoutMs: ACK_TIMEOUT_MS, clusterAdapter: 'none', databaseUrl: '', reconnectWindowMs: WINDOW_MS, ...settings },
      logger,
      new HealthRegistry(),
    );
    server = realtime;
    realtime.onApplicationBootstrap();
    const listen = async (): Promise<number> => {
      await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
      return (httpServer.address() as AddressInfo).port;
    };
    const connect = async (port: number, userId: string) => {
      const client = await acknowledgingBrowser(port, userId, SECRET);
      sockets.push(client.socket);
      return client;
    };
    return { server: realtime, listen, connect };
  }

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await server?.beforeApplicationShutdown();
    if (http?.listening) await new Promise((resolve) => http!.close(resolve));
    server = undefined;
    http = undefined;
  });

  it('delivers what it consumed before any browser was back to a browser that connects within the reconnect window', async () => {
    const { server: gw, listen, connect } = gateway();
    const userId = `user-${randomUUID()}`;
    // The backlog: one job consumed before the port is bound, one after it, both before the browser is back.
    const beforeListening = gw.emitNotification(userId, message('consumed before the port was bound'));
    const port = await listen();
    const afterListening = gw.emitNotification(userId, message('consumed before the browser was back'));

    const client = await connect(port, userId);

    expect(await Promise.all([beforeListening, afterListening])).toEqual(['acknowledged', 'acknowledged']);
    expect(client.received).toEqual(['consumed before the port was bound', 'consumed before the browser was back']);
  });

  it('answers offline once the window has passed with nobody connected: the fallback still comes', async () => {
    const { server: gw, listen } = gateway();
    const sent = gw.emitNotification(`user-${randomUUID()}`, message('nobody comes'));
    await listen();
    expect(await sent).toBe('offline');
  });

  it('answers offline at once with a window of 0 (off), before a browser that connects right after', async () => {
    const { server: gw, listen, connect } = gateway({ reconnectWindowMs: 0 });
    const userId = `user-${randomUUID()}`;
    const port = await listen();
    expect(await gw.emitNotification(userId, message('not held'))).toBe('offline');
    const client = await connect(port, userId);
    // A later emit reaches it: the first one had gone before it connected, not after.
    expect(await gw.emitNotification(userId, message('after it connected'))).toBe('acknowledged');
    expect(client.received).toEqual(['after it connected']);
  });

  it('holds its emits for the window, even to a browser already back, and lets them go at a shutdown, while the browsers are still there', async () => {
    const { server: gw, listen, connect } = gateway({ reconnectWindowMs: 60_000 });
    const userId = `user-${randomUUID()}`;
    const client = await connect(await listen(), userId);
    const sent = gw.emitNotification(userId, message('held at the shutdown'));
    await roundTrip(client.socket);
    // Held, behind any emit held before it: let through, it would have come before the answer.
    expect(client.received).toEqual([]);

    await gw.beforeApplicationShutdown();

    expect(await sent).toBe('acknowledged');
    expect(client.received).toEqual(['held at the shutdown']);
  });
});
