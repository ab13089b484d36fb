import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server as HttpServer } from 'node:http';
import { Server, type Namespace } from 'socket.io';
import {
  REALTIME_NAMESPACE,
  type ClientToServerEvents,
  type InboxMessage,
  type ServerToClientEvents,
  type StoredAck,
} from '@notify/contracts';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { TokenRejected, TokenVerifier } from '../auth/token-verifier';
import { userRoom } from './rooms';

export interface SocketData {
  userId: string;
  deviceId: string | null;
}

type InterServerEvents = Record<string, never>;
type NotificationsServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type NotificationsNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface RealtimeSettings {
  allowedOrigins: string[];
  maxHttpBufferSize: number;
  ackTimeoutMs: number;
}
export const REALTIME_SETTINGS = Symbol('REALTIME_SETTINGS');

/** What became of one emitted message: acknowledged by at least one device, nobody connected, or no ack in time. */
export type EmitOutcome = 'acknowledged' | 'offline' | 'ack_timeout';

/** Socket.IO behind one injectable: authentication, one room per user, emits with acknowledgements. */
@Injectable()
export class RealtimeServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private io?: NotificationsServer;
  private namespace?: NotificationsNamespace;

  constructor(
    private readonly httpAdapterHost: HttpAdapterHost,
    private readonly tokens: TokenVerifier,
    @Inject(REALTIME_SETTINGS) private readonly settings: RealtimeSettings,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {}

  onApplicationBootstrap(): void {
    const httpServer = this.httpAdapterHost.httpAdapter.getHttpServer() as HttpServer;
    const origins = this.settings.allowedOrigins;
    this.io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(httpServer, {
      maxHttpBufferSize: this.settings.maxHttpBufferSize,
      cors: { origin: origins.length > 0 ? origins : true, credentials: false },
      allowRequest: (req, callback) => {
        const origin = req.headers.origin;
        callback(null, origins.length === 0 || origin === undefined || origins.includes(origin));
      },
    });
    const namespace = this.io.of(REALTIME_NAMESPACE);
    namespace.use((socket, next) => {
      try {
        const auth = socket.handshake.auth as { token?: unknown; deviceId?: unknown };
        const verified = this.tokens.verify(auth.token);
        socket.data.userId = verified.userId;
        socket.data.deviceId = typeof auth.deviceId === 'string' ? auth.deviceId.slice(0, 128) : null;
        const expiry = setTimeout(() => socket.disconnect(true), Math.max(0, verified.expiresAt - Date.now()));
        socket.once('disconnect', () => clearTimeout(expiry));
        next();
      } catch (error) {
        next(new Error(error instanceof TokenRejected ? error.message : 'unauthenticated'));
      }
    });
    namespace.on('connection', (socket) => {
      void socket.join(userRoom(socket.data.userId));
    });
    this.namespace = namespace;
    this.logger.info({ namespace: REALTIME_NAMESPACE }, 'socket.io namespace ready');
  }

  /** Emits one message to every device of its user; resolves when one has acknowledged, none is connected, or time ran out. */
  emitNotification(userId: string, message: InboxMessage): Promise<EmitOutcome> {
    const namespace = this.requireNamespace();
    return new Promise((resolve) => {
      namespace
        .to(userRoom(userId))
        .timeout(this.settings.ackTimeoutMs)
        .emit('notification', message, (error: Error | null, replies: StoredAck[]) => {
          if (replies.length > 0) resolve('acknowledged');
          else resolve(error ? 'ack_timeout' : 'offline');
        });
    });
  }

  /** Closes every client connection so the HTTP server, which NestJS closes next, is not held open by them. */
  beforeApplicationShutdown(): void {
    this.io?.engine.close();
  }

  private requireNamespace(): NotificationsNamespace {
    if (!this.namespace) throw new Error('the realtime server has not started');
    return this.namespace;
  }
}
