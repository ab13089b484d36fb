import { performance } from 'node:perf_hooks';
import { status, type Metadata } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import type { Counter, Histogram } from 'prom-client';
import type { AppLogger, Metrics } from '@notify/observability';
import type { ApiKeyScope } from '@notify/persistence';
import type { ApiKeyAuthenticator } from '../auth/api-key-authenticator';
import type { Caller } from '../auth/caller';
import { RpcError } from './rpc-error';

export const API_KEY_HEADER = 'x-api-key';

/**
 * Errors that mean the database cannot be reached right now: the caller may retry (UNAVAILABLE).
 * The network's (a name that does not resolve during a failover, a host or network gone, a socket
 * closed under a write) and PostgreSQL's (shutting down, cannot connect now, too many connections).
 */
const UNREACHABLE = new Set([
  ...['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN'],
  ...['57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300'],
]);
/** PostgreSQL's query_canceled, which the session's statement_timeout raises. */
const STATEMENT_TIMEOUT = '57014';
/** pg's and pg-pool's own connection failures, which carry no code (a pooled connection the server closed). */
const CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect)/;

function isUnreachable({ code, message }: { code?: string; message?: string }): boolean {
  return (typeof code === 'string' && UNREACHABLE.has(code)) || (typeof message === 'string' && CONNECTION_LOST.test(message));
}

/** What grpc-js tells a handler of its call (`ServerUnaryCall`): whether its client has gone, and its deadline. */
export interface CallState {
  readonly cancelled: boolean;
  getDeadline(): Date | number;
}

/** How many calls go to the database at once (its pool), and how long one waits for its turn. */
export interface CallLimits {
  concurrency: number;
  waitMs: number;
}

/**
 * At most `concurrency` calls at work at once, the others waiting their turn here, first come first
 * served, at most `waitMs`. Waiting in pg's pool instead, a call whose client had given up (its
 * deadline passed, or cancelled) still ran once a connection freed up: a burst of slow calls and the
 * retries of impatient clients queued behind calls no one waited for, and even cheap calls timed out.
 * Here a call whose turn comes is dropped if no one waits for it any more.
 */
class CallTurns {
  private atWork = 0;
  private readonly waiting: { start: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(private readonly limits: CallLimits) {}

  async run<T>(call: CallState | undefined, work: () => Promise<T>): Promise<T> {
    if (this.atWork < this.limits.concurrency) this.atWork += 1;
    else await this.turn();
    try {
      // A call is dropped when its turn comes if its client no longer waits for the answer.
      if (call?.cancelled) throw new RpcError(status.CANCELLED, 'cancelled by the client');
      const deadline = call ? Number(call.getDeadline()) : Infinity;
      if (deadline <= Date.now()) throw new RpcError(status.DEADLINE_EXCEEDED, 'the deadline passed before the call’s turn came');
      return await work();
    } finally {
      // The place is handed on, so no call that arrives meanwhile gets ahead of those waiting.
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.start();
      } else {
        this.atWork -= 1;
      }
    }
  }

  private turn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = {
        start: resolve,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(entry), 1);
          reject(RpcError.unavailable('the database is busy; try again'));
        }, this.limits.waitMs),
      };
      this.waiting.push(entry);
    });
  }
}

/**
 * The path of every unary call: the API key from `x-api-key` (UNAUTHENTICATED without a valid one),
 * the method's scope (PERMISSION_DENIED), then the method, whose RpcErrors become their status
 * (thrown as Nest RpcExceptions, which the gRPC transport passes to grpc-js as they are).
 * Anything else is logged — by name, code and message only, since a query error also carries its
 * parameters, which can be phone numbers or emails — and answered INTERNAL.
 */
export class UnaryCalls {
  private readonly calls: Counter;
  private readonly seconds: Histogram;
  private readonly turns: CallTurns;

  constructor(
    private readonly keys: ApiKeyAuthenticator,
    metrics: Metrics,
    private readonly logger: AppLogger,
    limits: CallLimits,
  ) {
    this.turns = new CallTurns(limits);
    this.calls = metrics.counter('notify_query_api_calls_total', 'gRPC calls answered, by method and status', ['method', 'code']);
    this.seconds = metrics.histogram('notify_query_api_call_seconds', 'Time to answer a gRPC call', [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], ['method']);
  }

  /**
   * Answers one call, its method in its turn (`CallTurns`): the response, or an RpcException carrying
   * the gRPC status the transport sends. The key and its scope are checked first, out of turn: a
   * caller with a missing or refused key hears so at once, not UNAVAILABLE (retry) after waiting
   * behind the calls at work. The method is given its caller (the key's name, never the key), for
   * writes that record who made them.
   */
  async answer<Response>(method: string, scope: ApiKeyScope, metadata: Metadata, handle: (caller: Caller) => Promise<Response>, call?: CallState): Promise<Response> {
    const started = performance.now();
    try {
      const response = await this.authorized(metadata, scope, (caller) => this.turns.run(call, () => handle(caller)));
      this.record(method, status.OK, started);
      return response;
    } catch (error) {
      const failure = this.toStatus(method, error);
      this.record(method, failure.code, started);
      throw new RpcException({ ...failure, message: failure.details });
    }
  }

  private async authorized<Response>(metadata: Metadata, scope: ApiKeyScope, handle: (caller: Caller) => Promise<Response>): Promise<Response> {
    const [key] = metadata.get(API_KEY_HEADER);
    if (typeof key !== 'string' || key.length === 0) throw RpcError.unauthenticated(`missing ${API_KEY_HEADER} metadata`);
    const caller = await this.keys.authenticate(key);
    if (!caller) throw RpcError.unauthenticated('unknown or revoked API key');
    if (!caller.scopes.includes(scope)) throw RpcError.permissionDenied(`the API key "${caller.keyName}" does not have the ${scope} scope`);
    return handle(caller);
  }

  private toStatus(method: string, error: unknown): { code: status; details: string } {
    if (error instanceof RpcError) return { code: error.code, details: error.message };
    const { name, code, message } = error as { name?: string; code?: string; message?: string };
    if (code === STATEMENT_TIMEOUT) {
      this.logger.warn({ method }, 'a database statement of a gRPC call ran past its timeout');
      return { code: status.DEADLINE_EXCEEDED, details: 'the database did not answer in time; try again' };
    }
    const unreachable = isUnreachable({ code, message });
    this.logger.error({ method, error: { name, code, message } }, unreachable ? 'database unreachable during a gRPC call' : 'gRPC call failed');
    return unreachable ? { code: status.UNAVAILABLE, details: 'the database is unreachable; try again' } : { code: status.INTERNAL, details: 'internal error' };
  }

  private record(method: string, code: status, started: number): void {
    this.calls.inc({ method, code: status[code] });
    this.seconds.observe({ method }, (performance.now() - started) / 1000);
  }
}
