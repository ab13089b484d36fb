import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/postgres-adapter';
import { Pool } from 'pg';
import { Server, type Namespace } from 'socket.io';
import { MessageType } from 'socket.io-adapter';
import {
  REALTIME_NAMESPACE,
  acknowledgesStored,
  type ClientToServerEvents,
  type HandshakeAuth,
  type InboxMessage,
  type ServerToClientEvents,
  type StoredAck,
} from '@notify/contracts';
import { LONGEST_TIMER_MS } from '@notify/config';
import { APP_LOGGER, HealthRegistry, type AppLogger, type HealthCheck } from '@notify/observability';
import { TokenRejected, TokenVerifier } from '../auth/token-verifier';
import { InboxRequests, type NotificationSocket, type SocketData } from './inbox-requests';
import { listeningPool, type ListeningPool } from './listening-pool';
import { forgettingRelayedAcks, hearingPeers, type AdapterFactory } from './relayed-acks';
import { ReturningBrowsers } from './returning-browsers';
import { userRoom } from './rooms';
import { SettleGate } from './settle-gate';
import { ShortCloseWebSocketServer } from './short-close-websockets';

/** A client's handshake as it arrives: the fields the contract names, none of them checked yet. */
type ClientHandshake = { [K in keyof HandshakeAuth]?: unknown };

type InterServerEvents = Record<string, never>;
type NotificationsServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type NotificationsNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface RealtimeSettings {
  allowedOrigins: string[];
  maxHttpBufferSize: number;
  ackTimeoutMs: number;
  clusterAdapter: 'postgres' | 'none';
  databaseUrl: string;
  /**
   * How long the browsers get to reconnect (`GATEWAY_RECONNECT_WINDOW_MS`): emits wait until the HTTP
   * server has listened this long, and an `offline` answer while a gateway of the cluster left (or
   * this one started) this recently is provisional. Absent or 0: no window.
   */
  reconnectWindowMs?: number;
}
export const REALTIME_SETTINGS = Symbol('REALTIME_SETTINGS');

/** How long a shutdown waits for the cluster adapter's publishes still under way (`ListeningPool.drained`). */
const ADAPTER_DRAIN_MS = 5_000;
/**
 * How long a shutdown waits, once its connections have left their rooms, for the acknowledgements of
 * the emits that reached them just before: a browser answers within a round trip.
 */
const LAST_EMITS_MS = 1_000;
/** The least a shutdown gives the reads still waiting for their turn once its connections are closed. */
const LAST_READS_MS = 1_000;

/**
 * What became of one emit: stored by at least one device (its acknowledgement is not an error),
 * answered only with errors, nobody connected on any gateway, or no answer in time.
 */
export type EmitOutcome = 'acknowledged' | 'client_error' | 'offline' | 'ack_timeout';

/**
 * How long the LISTEN connection must have listened before an emit trusts the gateways it knows: the
 * others answer its announcement within milliseconds.
 */
export const CLUSTER_SETTLE_MS = 1_000;

/**
 * The longest the cluster adapter waits before it connects again after losing its LISTEN connection
 * (`scheduleReconnection` in @socket.io/postgres-adapter: 1 to 3 s at random).
 */
export const ADAPTER_RECONNECTION_MAX_MS = 3_000;

/**
 * How long the cluster adapter may be without its LISTEN before health says `cluster` is down: a
 * few of its reconnections. A database that refuses LISTEN (a server in recovery after a failover)
 * still answers `SELECT 1`, and the gateway stayed healthy while no other gateway's emit reached it.
 */
export const CLUSTER_SILENT_MS = 10 * ADAPTER_RECONNECTION_MAX_MS;

/** The health check of the cluster adapter: down once its pool has had no LISTEN for more than `CLUSTER_SILENT_MS`. */
export function clusterCheck(pool: Pick<ListeningPool, 'silentFor'>, now: () => number = Date.now): HealthCheck {
  return async () => {
    const silentMs = pool.silentFor(now());
    if (silentMs !== undefined && silentMs > CLUSTER_SILENT_MS) throw new Error(`the cluster adapter has had no LISTEN for ${silentMs} ms`);
  };
}

/**
 * How long the LISTEN connection must have listened before an emit trusts the gateways it knows.
 * At the first LISTEN, `CLUSTER_SETTLE_MS`. Once one was lost — a database restart or failover ends
 * every gateway's at once — the others listen again up to the adapter's reconnection delay later than
 * this one; an emit for a user on a gateway not listening yet reached nobody, and came back only
 * through the resend poller after its acknowledgement timed out (and the route's fallback pushed it).
 */
function clusterSettleMs(lostOne: boolean): number {
  return lostOne ? ADAPTER_RECONNECTION_MAX_MS + CLUSTER_SETTLE_MS : CLUSTER_SETTLE_MS;
}

/** Whether the LISTEN connection has listened for `clusterSettleMs` by `now`. */
function clusterSettled(pool: Pick<ListeningPool, 'listening' | 'lostOne'>, now: number): boolean {
  const heard = pool.listening(now);
  return heard !== undefined && heard >= clusterSettleMs(pool.lostOne());
}

/**
 * The cluster adapter `make` makes, telling `heard` of each goodbye (`ADAPTER_CLOSE`) another gateway
 * publishes in the notifications namespace as it leaves the cluster: its connections have just closed,
 * and their browsers are reconnecting, to the gateways that remain or to its successor.
 */
function hearingGoodbyes(make: AdapterFactory, heard: () => void): AdapterFactory {
  return hearingPeers(make, (message) => {
    if (message.type === MessageType.ADAPTER_CLOSE && message.nsp === REALTIME_NAMESPACE) heard();
  });
}

/** Disconnects the socket when its token expires, however far away that is. */
function disconnectAtExpiry(socket: NotificationSocket, expiresAt: number): void {
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = expiresAt - Date.now();
    timer = left > LONGEST_TIMER_MS ? setTimeout(arm, LONGEST_TIMER_MS) : setTimeout(() => socket.disconnect(true), Math.max(0, left));
  };
  arm();
  socket.once('disconnect', () => clearTimeout(timer));
}

/**
 * Socket.IO behind one injectable: token check in the handshake, one room per user (chosen by the
 * server from the verified token), emits with acknowledgements, and a cluster of gateways through
 * the PostgreSQL adapter. Connection state recovery stays off: a reconnecting client syncs by
 * sequence number instead, and every connection passes the token check.
 */
@Injectable()
export class RealtimeServer implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private io?: NotificationsServer;
  private namespace?: NotificationsNamespace;
  private adapterPool?: Pool;
  private listening?: ListeningPool;
  /**
   * Until the HTTP server has listened for the reconnect window, the browsers of this gateway's users
   * may not have reconnected yet: a restarted gateway consumes its backlog before any browser can be
   * back (the consumer starts before the port is bound), and every emit then found no client and
   * released the route's next tier, a push to the phone of a user whose page was open. And while the
   * LISTEN connection is down or has listened again for under `clusterSettleMs`, the cluster this
   * gateway knows may lack gateways that have users' connections. An emit waits for both (at most
   * `longestHoldMs`) rather than count no clients and call their users offline.
   */
  private settling?: SettleGate;
  /** When the HTTP server began to listen: the browsers reconnect from then on. */
  private listeningSince?: number;
  /** When another gateway of the cluster last said goodbye: its browsers reconnect from then on. */
  private peerLeftAt?: number;
  /** The second emits of `offline` answers found provisional (`tryAgainLater`), by their timers. */
  private readonly provisional = new Map<NodeJS.Timeout, () => void>();
  /** Emits still waiting for their acknowledgements; a shutdown waits for them (each ends by its timeout). */
  private readonly unanswered = new Set<Promise<EmitOutcome>>();
  /** Who waits for fewer than `count` emits to be unanswered (`whenUnansweredBelow`). */
  private belowWaiters: { count: number; resolve: () => void }[] = [];
  /** Set as the shutdown begins: no connection is taken from then on. */
  private closing = false;

  constructor(
    private readonly httpAdapterHost: HttpAdapterHost,
    private readonly tokens: TokenVerifier,
    private readonly inboxRequests: InboxRequests,
    @Inject(REALTIME_SETTINGS) private readonly settings: RealtimeSettings,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
    @Optional() @Inject(ReturningBrowsers) private readonly returningBrowsers?: ReturningBrowsers,
  ) {}

  onApplicationBootstrap(): void {
    const httpServer = this.httpAdapterHost.httpAdapter.getHttpServer() as HttpServer;
    const origins = this.settings.allowedOrigins;
    this.io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(httpServer, {
      maxHttpBufferSize: this.settings.maxHttpBufferSize,
      wsEngine: ShortCloseWebSocketServer,
      cors: { origin: origins.length > 0 ? origins : true, credentials: false },
      // A gateway shutting down takes no new connection: the client's reconnection finds another
      // gateway. (Refused by the namespace's middleware instead, it would not try again.)
      allowRequest: (req, callback) => {
        const origin = req.headers.origin;
        callback(null, !this.closing && (origins.length === 0 || origin === undefined || origins.includes(origin)));
      },
    });
    // The main namespace serves nothing: a connection to it would be held open without a token.
    this.io.of('/').use((_socket, next) => next(new Error(`connect to ${REALTIME_NAMESPACE}`)));
    if (this.settings.clusterAdapter === 'postgres') {
      this.adapterPool = new Pool({
        connectionString: this.settings.databaseUrl,
        max: 3,
        application_name: 'realtime-gateway-adapter',
        // A server gone without closing the LISTEN connection would otherwise leave this gateway deaf to the others.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      });
      this.adapterPool.on('error', (err) => this.logger.warn({ err }, 'socket.io adapter connection lost'));
      this.io.adapter(
        // Listening (again), it announces itself, and the other gateways answer at once: they are
        // in its cluster again before its emits count their clients.
        forgettingRelayedAcks(
          hearingGoodbyes(
            createAdapter((this.listening = listeningPool(this.adapterPool, this.logger, () => this.announce())), {
              errorHandler: (err) => this.logger.warn({ err }, 'socket.io adapter error'),
              // PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more; the adapter's default threshold
              // (8000, compared with >) let a message of exactly 8,000 bytes be refused instead of attached.
              payloadThreshold: 7_999,
            }),
            () => this.peerLeft(),
          ),
        ),
      );
    }
    // NestJS binds the port after this (its `listen` runs the bootstrap hooks first); a test's server may listen already.
    if (httpServer.listening) this.listeningSince = Date.now();
    else httpServer.once('listening', () => (this.listeningSince = Date.now()));
    const listening = this.listening;
    if (listening) this.health.register('cluster', clusterCheck(listening));
    this.settling = new SettleGate({
      settled: (now) => this.reconnected(now) && (!listening || clusterSettled(listening, now)),
      longestWaitMs: this.longestHoldMs(),
    });
    const namespace = this.io.of(REALTIME_NAMESPACE);
    namespace.use((socket, next) => {
      try {
        const verified = this.tokens.verify((socket.handshake.auth as ClientHandshake).token);
        socket.data.userId = verified.userId;
        socket.data.expiresAt = verified.expiresAt;
        next();
      } catch (error) {
        next(new Error(error instanceof TokenRejected ? error.message : 'unauthenticated'));
      }
    });
    // Only a socket that has connected gets a `disconnect` event, so the expiry timer starts here.
    namespace.on('connection', (socket) => {
      // Its handshake came before the shutdown began: closing the transport has the client reconnect elsewhere.
      if (this.closing) return void socket.conn.close();
      disconnectAtExpiry(socket, socket.data.expiresAt);
      void socket.join(userRoom(socket.data.userId));
      this.inboxRequests.attach(socket);
      // Its browser syncs what it missed: the deliveries of it still waiting for a retry are sent again now.
      this.returningBrowsers?.connected(socket.data.userId);
    });
    this.namespace = namespace;
  }

  /**
   * Gateways this one knows in its cluster, itself included. A gateway that has just started is
   * known to the others only once its first heartbeat has arrived; until then their emits do not
   * wait for its clients.
   */
  clusterSize(): Promise<number> {
    return this.namespace!.adapter.serverCount();
  }

  /** Emits still waiting for their acknowledgements (or, before that, for the gate, or for their second try). */
  unansweredEmits(): number {
    return this.unanswered.size;
  }

  /** Resolves once fewer than `count` emits are unanswered (`unansweredEmits`): at once if fewer already are. */
  whenUnansweredBelow(count: number): Promise<void> {
    if (this.unanswered.size < count) return Promise.resolve();
    return new Promise((resolve) => this.belowWaiters.push({ count, resolve }));
  }

  /** Emits one message to every device of its user, on whichever gateway they are connected. */
  emitNotification(userId: string, message: InboxMessage): Promise<EmitOutcome> {
    return this.emitWithAck(userId, (room, done) => room.emit('notification', message, done));
  }

  /** Emits several messages of one user as one `notifications` event, acknowledged once for all. */
  emitNotifications(userId: string, messages: InboxMessage[]): Promise<EmitOutcome> {
    return this.emitWithAck(userId, (room, done) => room.emit('notifications', messages, done));
  }

  /**
   * Emits through the settle gate, and answers what came of it. An `offline` answer is provisional
   * while the browsers of a gateway that has just gone may still be reconnecting (`tryAgainLater`):
   * in a rolling deploy, the stopping gateway's users were `offline` to the others until they were
   * back, and the route's next tier pushed every message to them meanwhile.
   */
  private emitWithAck(
    userId: string,
    emit: (room: ReturnType<NotificationsNamespace['timeout']>, done: (error: Error | null, replies: StoredAck[]) => void) => void,
  ): Promise<EmitOutcome> {
    const namespace = this.requireNamespace();
    const startedAt = Date.now();
    const outcome = new Promise<EmitOutcome>((resolve) => {
      const send = (answer: (outcome: EmitOutcome) => void) =>
        emit(namespace.to(userRoom(userId)).timeout(this.settings.ackTimeoutMs), (error, replies) => {
          if (replies.some(acknowledgesStored)) answer('acknowledged');
          else if (replies.length > 0) answer('client_error');
          else answer(error ? 'ack_timeout' : 'offline');
        });
      const first = (answer: EmitOutcome) => {
        if (answer !== 'offline' || !this.tryAgainLater(startedAt, () => send(resolve))) resolve(answer);
      };
      // A shutdown has let the emits held go: one made since has nothing left to wait for.
      if (this.settling && !this.closing) this.settling.whenSettled(() => send(first));
      else send(first);
    });
    this.unanswered.add(outcome);
    void outcome.then(() => {
      this.unanswered.delete(outcome);
      if (this.belowWaiters.length > 0) this.wakeBelow();
    });
    return outcome;
  }

  /** Resolves the waits of `whenUnansweredBelow` that fewer emits than theirs are now unanswered. */
  private wakeBelow(): void {
    const size = this.unanswered.size;
    const woken = this.belowWaiters.filter((waiter) => size < waiter.count);
    if (woken.length === 0) return;
    this.belowWaiters = this.belowWaiters.filter((waiter) => size >= waiter.count);
    for (const { resolve } of woken) resolve();
  }

  /** The reconnect window, 0 when there is none. */
  private reconnectWindowMs(): number {
    return this.settings.reconnectWindowMs ?? 0;
  }

  /**
   * The longest an emit waits before it goes for good: held by the gate, or answered `offline` and
   * held for its second try. Within it, the acknowledgement timeout after it, and a second to record
   * the outcome, the emit fits the lease of its claim (`longestReconnectWindowMs` in the configuration).
   */
  private longestHoldMs(): number {
    return Math.max(this.settings.ackTimeoutMs, this.reconnectWindowMs());
  }

  /** Whether, at `now`, the HTTP server has listened for the reconnect window. */
  private reconnected(now: number): boolean {
    const windowMs = this.reconnectWindowMs();
    return windowMs === 0 || (this.listeningSince !== undefined && now - this.listeningSince >= windowMs);
  }

  /**
   * When an emit found nobody within the reconnect window after another gateway's goodbye or this
   * gateway's start (an emit the gate let go early), runs `again` as the window ends, and says so: the
   * answer waits for the second emit. Only if that ends within the emit's `longestHoldMs` (from
   * `startedAt`), and not while this gateway shuts down. One timer per emit, and one second emit.
   */
  private tryAgainLater(startedAt: number, again: () => void): boolean {
    const windowMs = this.reconnectWindowMs();
    if (windowMs === 0 || this.closing) return false;
    const now = Date.now();
    const since = Math.max(this.peerLeftAt ?? Number.NEGATIVE_INFINITY, this.listeningSince ?? now);
    const at = since + windowMs;
    if (at <= now || at > startedAt + this.longestHoldMs()) return false;
    const timer = setTimeout(() => {
      this.provisional.delete(timer);
      again();
    }, at - now);
    this.provisional.set(timer, again);
    return true;
  }

  /** Another gateway said goodbye: its users' `offline` answers wait for the reconnect window. */
  private peerLeft(): void {
    this.peerLeftAt = Date.now();
    const windowMs = this.reconnectWindowMs();
    if (windowMs > 0) this.logger.info({ reconnectWindowMs: windowMs }, 'a gateway left the cluster: users found offline are tried once more as its browsers can have reconnected');
  }

  /** Publishes the adapter's first heartbeat again, which every other gateway answers with its own. */
  private announce(): void {
    (this.namespace?.adapter as { init?: () => void } | undefined)?.init?.();
  }

  /**
   * Waits for the acknowledgements of the emits still out (at most the acknowledgement timeout: the
   * consumer has stopped, so no emit starts), with every connection and the cluster still open; then
   * closes every client connection so the HTTP server, which NestJS closes next, is not held open by
   * them, and leaves the cluster (the adapters release their LISTEN connection). Closed at once, a
   * deploy lost the acknowledgements of the last batch: stored by the browser, the messages were
   * taken for unanswered and sent again by push.
   *
   * Emits of the other gateways reach this one's connections too, and their acknowledgements come
   * back through it: those the connections owe are waited for as well, within the same time. The
   * connections stay in their rooms meanwhile: out of them, every user of this gateway counted for
   * `offline` with the others for as long as one sleeping laptop held the wait, and each message to
   * them went by push too. Then they leave their rooms, and the acknowledgements of the emits that
   * reached them just before get `LAST_EMITS_MS`. No connection is taken meanwhile: one taken then
   * would join its user's room and get messages whose acknowledgements nothing waits for.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (!this.io) return;
    // Emits held while the cluster settled or the browsers reconnected, and the second tries of those
    // found offline, go now, while this gateway's connections are still in their rooms: let go after
    // they leave, they reached nobody and were recorded `offline`.
    this.settling?.releaseAll();
    for (const [timer, again] of this.provisional) {
      clearTimeout(timer);
      again();
    }
    this.provisional.clear();
    const owed = this.namespace ? owedAcknowledgements(this.namespace) : [];
    await Promise.all([...this.unanswered, answered(owed, this.settings.ackTimeoutMs)]);
    if (this.namespace) await answered(stopReceiving(this.namespace), LAST_EMITS_MS);
    // The acknowledgements relayed for the other gateways are published before the goodbye, which
    // goes on another connection: a reply read after it counted this gateway in the cluster again.
    // Both waits share one bound, within the stop grace period (docker-compose.yml).
    const drainedBy = Date.now() + ADAPTER_DRAIN_MS;
    await this.listening?.drained(ADAPTER_DRAIN_MS);
    this.listening?.close();
    this.io.engine.close();
    // The reads still waiting, sent while the connections stayed open, are stored within what is left
    // of the same bound (at least `LAST_READS_MS`), before the goodbye: each tells the user's other
    // devices through the cluster, and a message read after the goodbye counted this gateway in again.
    await this.inboxRequests.storeWaitingReads(Math.max(LAST_READS_MS, drainedBy - Date.now()));
    await Promise.all([this.io.of('/'), this.io.of(REALTIME_NAMESPACE)].map((namespace) => namespace.adapter.close()));
    await this.listening?.drained(Math.max(0, drainedBy - Date.now()));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.adapterPool?.end();
  }

  private requireNamespace(): NotificationsNamespace {
    if (!this.namespace) throw new Error('the realtime server has not started');
    return this.namespace;
  }
}

/** What socket.io keeps per connection for the acknowledgements it waits for, by packet id. */
type OwedAcks = { socket: { connected: boolean }; acks: Map<number, unknown>; ids: number[] };

/** The acknowledgements the namespace's connections still owe. */
function owedAcknowledgements(namespace: NotificationsNamespace): OwedAcks[] {
  const owed: OwedAcks[] = [];
  for (const socket of namespace.sockets.values()) {
    // socket.io's own record of the emits this connection has not acknowledged, its gateway's or another's.
    const acks = (socket as unknown as { acks: Map<number, unknown> }).acks;
    if (acks.size > 0) owed.push({ socket, acks, ids: [...acks.keys()] });
  }
  return owed;
}

/** Takes the namespace's connections out of their rooms, and gives the acknowledgements they still owe. */
function stopReceiving(namespace: NotificationsNamespace): OwedAcks[] {
  for (const socket of namespace.sockets.values()) void socket.leave(userRoom(socket.data.userId));
  return owedAcknowledgements(namespace);
}

/** Resolves once every acknowledgement owed has come (or its connection closed), or after `withinMs`. */
async function answered(owed: OwedAcks[], withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  const pending = () => owed.some(({ socket, acks, ids }) => socket.connected && ids.some((id) => acks.has(id)));
  while (pending() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}
