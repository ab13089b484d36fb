import { performance } from 'node:perf_hooks';
import { status, type handleUnaryCall, type ServerErrorResponse, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Counter, Histogram } from 'prom-client';
import type { AppLogger, Metrics } from '@notify/observability';
import type { ApiKeyScope } from '@notify/persistence';
import type { ApiKeyAuthenticator } from '../auth/api-key-authenticator';
import { RpcError } from './rpc-error';

export const API_KEY_HEADER = 'x-api-key';

/** Errors that mean the database cannot be reached right now: the caller may retry (UNAVAILABLE). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300']);

/**
 * The path of every unary call: the API key from `x-api-key` (UNAUTHENTICATED without a valid one),
 * the method's scope (PERMISSION_DENIED), then the method, whose RpcErrors become their status.
 * Anything else is logged — by name, code and message only, since a query error also carries its
 * parameters, which can be phone numbers or emails — and answered INTERNAL.
 */
export class UnaryCalls {
  private readonly calls: Counter;
  private readonly seconds: Histogram;

  constructor(
    private readonly keys: ApiKeyAuthenticator,
    metrics: Metrics,
    private readonly logger: AppLogger,
  ) {
    this.calls = metrics.counter('notify_query_api_calls_total', 'gRPC calls answered, by method and status', ['method', 'code']);
    this.seconds = metrics.histogram('notify_query_api_call_seconds', 'Time to answer a gRPC call', [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], ['method']);
  }

  define<Response>(method: string, scope: ApiKeyScope, handle: (request: unknown) => Promise<Response>): handleUnaryCall<unknown, Response> {
    return (call, callback) => {
      const started = performance.now();
      this.run(call, scope, handle).then(
        (response) => {
          this.record(method, status.OK, started);
          callback(null, response);
        },
        (error: unknown) => {
          const failure = this.toStatus(method, error);
          this.record(method, failure.code, started);
          callback(failure);
        },
      );
    };
  }

  private async run<Response>(call: ServerUnaryCall<unknown, Response>, scope: ApiKeyScope, handle: (request: unknown) => Promise<Response>): Promise<Response> {
    const [key] = call.metadata.get(API_KEY_HEADER);
    if (typeof key !== 'string' || key.length === 0) throw RpcError.unauthenticated(`missing ${API_KEY_HEADER} metadata`);
    const caller = await this.keys.authenticate(key);
    if (!caller) throw RpcError.unauthenticated('unknown or revoked API key');
    if (!caller.scopes.includes(scope)) throw RpcError.permissionDenied(`the API key "${caller.keyName}" does not have the ${scope} scope`);
    return handle(call.request);
  }

  private toStatus(method: string, error: unknown): ServerErrorResponse & { code: status } {
    if (error instanceof RpcError) return Object.assign(new Error(error.message), { code: error.code, details: error.message });
    const { name, code, message } = error as { name?: string; code?: string; message?: string };
    const unreachable = typeof code === 'string' && UNREACHABLE.has(code);
    this.logger.error({ method, error: { name, code, message } }, unreachable ? 'database unreachable during a gRPC call' : 'gRPC call failed');
    const answer = unreachable ? { code: status.UNAVAILABLE, details: 'the database is unreachable; try again' } : { code: status.INTERNAL, details: 'internal error' };
    return Object.assign(new Error(answer.details), answer);
  }

  private record(method: string, code: status, started: number): void {
    this.calls.inc({ method, code: status[code] });
    this.seconds.observe({ method }, (performance.now() - started) / 1000);
  }
}
