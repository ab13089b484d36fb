import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpAdapterHost } from '@nestjs/core';
import type { Socket } from 'socket.io-client';
import type { InboxMessage } from '@notify/contracts';
import { createLogger, HealthRegistry } from '@notify/observability';
import { eventually } from '@notify/testing';
import { TokenVerifier } from '../auth/token-verifier';
import { acknowledgingBrowser, watched } from '../testing/browsers';
import type { InboxRequests } from './inbox-requests';
import { RealtimeServer } from './realtime-server';

const logger = createLogger('realtime-server-int-spec', 'silent');
const SECRET = 'a-test-secret-of-at-least-32-chars';
/** The reconnect window of these gateways: short, for the tests' sake (7 s by default). */
const WINDOW_MS = 2_000;
/** Far beyond any test: only acknowledgements, or nobody connected, end an emit. */
const ACK_TIMEOUT_MS = 120_000;

/** The browsers here ask for nothing: the inbox's requests are not needed. */
const noRequests = { attach: () => undefined, storeWaitingReads: async () => undefined } as unknown as InboxRequests;

function message(id: string): InboxMessage {
  return { id, seq: 1, type: 'account.note', title: 't', body: 'b', data: {}, createdAt: new Date().toISOString() };
}

const newUser = (): string => `user-${randomUUID()}`;

interface Gateway {
  server: RealtimeServer;
  http: HttpServer;
  port: number;
}

/** A gateway of the cluster (the PostgreSQL adapter on the run's database), listening, as NestJS starts one. */
async function startGateway(): Promise<Gateway> {
  const http = createServer();
  const server = new RealtimeServer(
    { httpAdapter: { getHttpServer: () => http } } as unknown as HttpAdapterHost,
    new TokenVerifier({ jwtSecret: SECRET }),
    noRequests,
    {
      allowedOrigins: [],
      maxHttpBufferSize: 1_000_000,
      ackTimeoutMs: ACK_TIMEOUT_MS,
      clusterAdapter: 'postgres',
      databaseUrl: process.env.DATABASE_URL!,
      reconnectWindowMs: WINDOW_MS,
    },
    logger,
    new HealthRegistry(),
  );
  server.onApplicationBootstrap();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { server, http, port: (http.address() as AddressInfo).port };
}

/** Stops a gateway as a deploy does: its connections close, then it says goodbye to the cluster. */
async function stopGateway({ server, http }: Gateway): Promise<void> {
  await server.beforeApplicationShutdown();
  await server.onApplicationShutdown();
  await new Promise((resolve) => http.close(resolve));
}

describe('RealtimeServer in a cluster: a gateway that leaves', () => {
  let emitting: Gateway;
  const sockets: Socket[] = [];

  /** A browser of `userId` on the gateway at `port` (`acknowledgingBrowser`), closed after each test. */
  async function browser(port: number, userId: string): Promise<{ socket: Socket; received: string[] }> {
    const opened = await acknowledgingBrowser(port, userId, SECRET);
    sockets.push(opened.socket);
    return opened;
  }

  /**
   * Another gateway joins, a browser of `userId` connects to it, and it leaves as a deploy stops it:
   * resolves once the emitting gateway has heard its goodbye.
   */
  async function peerLeaves(userId: string): Promise<void> {
    const peer = await startGateway();
    await eventually(() => emitting.server.clusterSize(), (n) => n === 2);
    await browser(peer.port, userId);
    await stopGateway(peer);
    await eventually(() => emitting.server.clusterSize(), (n) => n === 1);
  }

  /**
   * A round trip to a browser on the emitting gateway, emitted after `earlier`: by the time it is
   * acknowledged, an emit made before it to a user connected nowhere has been answered (the count of
   * clients over a cluster of one comes back at once).
   */
  async function roundTrip(): Promise<void> {
    const userId = newUser();
    await browser(emitting.port, userId);
    expect(await emitting.server.emitNotification(userId, message('round trip'))).toBe('acknowledged');
  }

  beforeAll(async () => {
    emitting = await startGateway();
    // Past its own start's window: what follows is held only because another gateway left.
    await eventually(() => emitting.server.emitNotification(newUser(), message('before the tests')), (outcome) => outcome === 'offline');
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  afterAll(async () => {
    if (emitting) await stopGateway(emitting);
  });

  it('delivers to a user of a gateway that left who reconnects within the window, instead of answering offline', async () => {
    const userId = newUser();
    await peerLeaves(userId);

    const sent = watched(emitting.server.emitNotification(userId, message('while the browser reconnects')));
    await roundTrip();
    // The emit has found nobody by now: its answer waits.
    expect(sent.settled()).toBe(false);
    const back = await browser(emitting.port, userId);

    expect(await sent.promise).toBe('acknowledged');
    expect(back.received).toEqual(['while the browser reconnects']);
  });

  it('answers offline at the window’s end when the user does not come back: the fallback comes, later', async () => {
    const userId = newUser();
    await peerLeaves(userId);

    const sent = watched(emitting.server.emitNotification(userId, message('nobody comes back')));
    await roundTrip();
    expect(sent.settled()).toBe(false);

    expect(await sent.promise).toBe('offline');
  });
});
