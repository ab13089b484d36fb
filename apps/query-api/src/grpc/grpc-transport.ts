import type { Server } from '@grpc/grpc-js';
import { Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Transport, type GrpcOptions } from '@nestjs/microservices';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO, type ServingStatus } from 'grpc-health-check';
import { HealthRegistry } from '@notify/observability';
import { NOTIFY_PROTO_FILES, NOTIFY_PROTO_LOADER_OPTIONS, NOTIFY_SERVICE_NAMES } from '@notify/contracts';

export interface GrpcSettings {
  grpcHost: string;
  grpcPort: number;
}

/** How often the gRPC health status is brought up to date with the app's checks (the database). */
export const HEALTH_REFRESH_MS = 5_000;

/**
 * How long a shutdown waits for the calls in flight before it cancels them. A unary call takes
 * milliseconds; a `Health.Watch` stream never ends by itself, and a graceful shutdown waited for it
 * for ever (until the supervisor's SIGKILL, with the database pool never closed).
 */
export const SHUTDOWN_GRACE_MS = 5_000;

/**
 * The standard gRPC health service (grpc.health.v1), reporting the app's own health checks for the
 * whole server ('') and for each notify.v1 service: NOT_SERVING until the app has started and from
 * the moment it starts shutting down, before the server stops taking calls, so watchers see it; in
 * between it follows the checks, run every `refreshMs`, so a probe sees the database go away and
 * come back. It also ends the server's calls still open `graceMs` after the shutdown began.
 */
@Injectable()
export class GrpcHealth implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  // Every name is known from the start, NOT_SERVING until the first check: a probe never sees NOT_FOUND.
  readonly service = new HealthImplementation(Object.fromEntries(['', ...NOTIFY_SERVICE_NAMES].map((name) => [name, 'NOT_SERVING' as const])));
  refreshMs = HEALTH_REFRESH_MS;
  graceMs = SHUTDOWN_GRACE_MS;
  private current: ServingStatus = 'NOT_SERVING';
  private timer?: NodeJS.Timeout;
  private server?: Server;
  private cancelling?: NodeJS.Timeout;
  private stopped = false;
  private refreshing = false;

  constructor(private readonly checks: HealthRegistry) {}

  /** What the health service answers now. */
  get status(): ServingStatus {
    return this.current;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  /** The server whose calls a shutdown ends after the grace period. */
  serveOn(server: Server): void {
    this.server = server;
    this.service.addToServer(server);
  }

  /** Nest runs this before it closes the transport, whose graceful close waits for every open call. */
  beforeApplicationShutdown(): void {
    this.stop();
    const server = this.server;
    if (server) {
      this.cancelling = setTimeout(() => server.forceShutdown(), this.graceMs);
      this.cancelling.unref();
    }
  }

  onApplicationShutdown(): void {
    this.stop();
    clearTimeout(this.cancelling);
  }

  private stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.set('NOT_SERVING');
  }

  /** One check at a time, so a slow one cannot finish after a newer one and undo its answer. */
  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const { healthy } = await this.checks.run();
      if (!this.stopped) this.set(healthy ? 'SERVING' : 'NOT_SERVING');
    } finally {
      this.refreshing = false;
    }
  }

  private set(status: ServingStatus): void {
    if (status === this.current) return;
    this.current = status;
    for (const name of ['', ...NOTIFY_SERVICE_NAMES]) this.service.setStatus(name, status);
  }
}

/**
 * The largest request the server reads; a larger one is answered RESOURCE_EXHAUSTED without being
 * decoded (grpc-js's default is 4 MiB). The largest valid one, a RegisterDevice with its 4096-character
 * push token and 128-character ids, is under 14 KiB even in 3-byte UTF-8 characters; a ListMessages
 * with its page token of at most 1024 under 2 KiB.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

/**
 * What one client connection may hold of the server: at most 100 calls at once on it (grpc-js sets no
 * limit); closed after 5 minutes without a call, so connections their clients forgot do not pile up;
 * and pinged every minute, so one whose client vanished (its host lost) is closed within the ping's
 * 20-s timeout instead of TCP's hours. A client behind a NAT that drops quiet connections sooner
 * sends its own keepalive pings.
 */
const CONNECTION_LIMITS = {
  'grpc.max_concurrent_streams': 100,
  'grpc.max_connection_idle_ms': 300_000,
  'grpc.keepalive_time_ms': 60_000,
};

/**
 * The NestJS gRPC transport serving notify.v1 from the same .proto files clients use, with the health
 * service and server reflection (grpc.reflection.v1 and v1alpha) over notify.v1 and health, so generic
 * tools (grpcurl, grpcui, Postman) can list and call the methods without the files.
 */
export function grpcTransport(settings: GrpcSettings, health: GrpcHealth): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      package: 'notify.v1',
      protoPath: [...NOTIFY_PROTO_FILES, HEALTH_PROTO],
      loader: NOTIFY_PROTO_LOADER_OPTIONS,
      url: `${settings.grpcHost}:${settings.grpcPort}`,
      gracefulShutdown: true,
      maxReceiveMessageLength: MAX_REQUEST_BYTES,
      // A copy: the transport adds the message lengths to the object it is given.
      channelOptions: { ...CONNECTION_LIMITS },
      onLoadPackageDefinition: (definition, server) => {
        health.serveOn(server);
        new ReflectionService(definition).addToServer(server);
      },
    },
  };
}
