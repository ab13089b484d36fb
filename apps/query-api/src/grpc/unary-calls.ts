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
 * Errors that mean the database cannot serve the call right now: the caller may retry (UNAVAILABLE).
 * The network's (a name that does not resolve during a failover, a host or network gone, a socket
 * closed under a write) and PostgreSQL's (shutting down, cannot connect now, too many connections;
 * a read-only transaction, on a primary demoted by a failover that the connection still reaches;
 * disk full, out of memory).
 */
const UNREACHABLE = new Set([
  ...['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN'],
  ...['57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300', '25006', '53100', '53200'],
]);
/**
 * PostgreSQL's deadlock_detected and serialization_failure: the call's transaction was chosen to give
 * way to another, and the whole call may be made again (ABORTED).
 */
const TRANSACTION_CONFLICT = new Set(['40P01', '40001']);
/** PostgreSQL's query_canceled, which the session's statement_timeout raises. */
const STATEMENT_TIMEOUT = '57014';
/**
 * pg's and pg-pool's own connection failures, which carry no code (a pooled connection the server
 * closed; a query the server left unanswered past the pool's `queryTimeoutMs`).
 */
const CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect|Query read timeout)/;

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
  /** The most calls of one API key at work and waiting (`MOST_CALLS_PER_KEY` unless given). */
  mostPerKey?: number;
}

/**
 * The most calls of one API key at work and waiting: a further one is refused at once
 * (RESOURCE_EXHAUSTED). A bound on a flood (a `Promise.all` over 50,000 users), each waiting call
 * holding its request; far above a busy service's bursts (at 500 calls/s a 40-ms pause of the
 * database is 20 calls), which wait their turn.
 */
export const MOST_CALLS_PER_KEY = 1_000;

/** One API key's calls in `CallTurns`, by the key's name. */
interface KeyCalls {
  readonly keyName: string;
  atWork: number;
  waiting: number;
}

/**
 * At most `concurrency` calls at work at once, the others waiting their turn here, first come first
 * served, at most `waitMs`. Waiting in pg's pool instead, a call whose client had given up (its
 * deadline passed, or cancelled) still ran once a connection freed up: a burst of slow calls and the
 * retries of impatient clients queued behind calls no one waited for, and even cheap calls timed out.
 * Here a call whose turn comes is dropped if no one waits for it any more.
 *
 * Shared between API keys, by name (the services calling; all callers of the bootstrap key are one):
 * a key has at most all the turns but one at work (`keyCap`), so another key's call always finds one;
 * a freed turn goes first to a waiting call of a key below half the turns, rounded up (`keyShare`),
 * so keys that all want more end up sharing them; and a key with `MOST_CALLS_PER_KEY` calls at work
 * and waiting is refused more at once (RESOURCE_EXHAUSTED). With one list for all, one service's slow
 * calls held every turn, and its burst of calls filled the list: every other service's calls waited
 * behind them until they were answered UNAVAILABLE. A service alone still has all the turns but one.
 */
class CallTurns {
  private atWork = 0;
  private readonly waiting: { calls: KeyCalls; start: () => void; timer: NodeJS.Timeout }[] = [];
  private readonly keys = new Map<string, KeyCalls>();
  private readonly keyShare: number;
  private readonly keyCap: number;
  private readonly keyMost: number;

  constructor(private readonly limits: CallLimits) {
    this.keyShare = Math.ceil(limits.concurrency / 2);
    this.keyCap = Math.max(1, limits.concurrency - 1);
    this.keyMost = limits.mostPerKey ?? MOST_CALLS_PER_KEY;
  }

  async run<T>(keyName: string, call: CallState | undefined, work: () => Promise<T>): Promise<T> {
    const calls = this.callsOf(keyName);
    if (calls.atWork + calls.waiting >= this.keyMost) {
      throw new RpcError(status.RESOURCE_EXHAUSTED, `this API key has ${this.keyMost} calls at work or waiting, the most it may have at once; try again once they are answered`);
    }
    if (this.atWork < this.limits.concurrency && calls.atWork < this.keyCap) this.begin(calls);
    else await this.turn(calls);
    try {
      // A call is dropped when its turn comes if its client no longer waits for the answer.
      if (call?.cancelled) throw new RpcError(status.CANCELLED, 'cancelled by the client');
      const deadline = call ? Number(call.getDeadline()) : Infinity;
      if (deadline <= Date.now()) throw new RpcError(status.DEADLINE_EXCEEDED, 'the deadline passed before the call’s turn came');
      return await work();
    } finally {
      this.atWork -= 1;
      calls.atWork -= 1;
      this.handOn();
      this.forgetIdle(calls);
    }
  }

  /**
   * Gives the free places at once, so no call that arrives meanwhile gets ahead of the waiting ones:
   * to the first waiting call whose key is below its share, else to the first whose key is below its cap.
   */
  private handOn(): void {
    while (this.atWork < this.limits.concurrency) {
      let index = this.waiting.findIndex((entry) => entry.calls.atWork < this.keyShare);
      if (index < 0) index = this.waiting.findIndex((entry) => entry.calls.atWork < this.keyCap);
      if (index < 0) return;
      const [next] = this.waiting.splice(index, 1);
      clearTimeout(next!.timer);
      next!.calls.waiting -= 1;
      this.begin(next!.calls);
      next!.start();
    }
  }

  private begin(calls: KeyCalls): void {
    this.atWork += 1;
    calls.atWork += 1;
  }

  private turn(calls: KeyCalls): Promise<void> {
    calls.waiting += 1;
    return new Promise((resolve, reject) => {
      const entry = {
        calls,
        start: resolve,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(entry), 1);
          calls.waiting -= 1;
          this.forgetIdle(calls);
          reject(RpcError.unavailable('the database is busy; try again'));
        }, this.limits.waitMs),
      };
      this.waiting.push(entry);
    });
  }

  private callsOf(keyName: string): KeyCalls {
    let calls = this.keys.get(keyName);
    if (!calls) this.keys.set(keyName, (calls = { keyName, atWork: 0, waiting: 0 }));
    return calls;
  }

  private forgetIdle(calls: KeyCalls): void {
    if (calls.atWork === 0 && calls.waiting === 0) this.keys.delete(calls.keyName);
  }
}

/**
 * The path of every unary call: the API key from `x-api-key` (UNAUTHENTICATED without a valid one),
 * the method's scope (PERMISSION_DENIED), then the method, whose RpcErrors become their status
 * (thrown as Nest RpcExceptions, which the gRPC transport passes to grpc-js as they are).
 * Anything else is logged — by name, code and message only, since a query error also carries its
 * parameters, which can be phone numbers or emails — and answered by what it means to the caller:
 * DEADLINE_EXCEEDED (a statement past its timeout), ABORTED (a transaction that gave way to another),
 * UNAVAILABLE (a database that cannot serve now), and INTERNAL for the rest.
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
   * the gRPC status the transport sends. The key and its scope are checked first, then the request
   * is read (`parse`, which throws INVALID_ARGUMENT), both out of turn: a caller with a missing or
   * refused key, or an invalid request, hears so at once, not UNAVAILABLE (retry) after waiting
   * behind the calls at work. The method (`handle`) is given the request as read and its caller
   * (the key's name, never the key), for writes that record who made them.
   */
  async answer<Request, Response>(
    method: string,
    scope: ApiKeyScope,
    metadata: Metadata,
    parse: () => Request,
    handle: (request: Request, caller: Caller) => Promise<Response>,
    call?: CallState,
  ): Promise<Response> {
    const started = performance.now();
    try {
      const response = await this.authorized(metadata, scope, (caller) => {
        const request = parse();
        return this.turns.run(caller.keyName, call, () => handle(request, caller));
      });
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
    if (typeof code === 'string' && TRANSACTION_CONFLICT.has(code)) {
      this.logger.warn({ method, error: { name, code } }, 'a database transaction of a gRPC call gave way to a conflicting one');
      return { code: status.ABORTED, details: 'the database stopped the call in a conflict with another (a deadlock or a serialization failure); try the call again' };
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
