import { status, type ServiceError } from '@grpc/grpc-js';

/** A failed call: the gRPC status by name (`INVALID_ARGUMENT`, `NOT_FOUND`, …) and the server's explanation. */
export class NotifyQueryError extends Error {
  constructor(
    readonly code: keyof typeof status,
    readonly method: string,
    readonly details: string,
  ) {
    super(`${method}: ${code}: ${details}`);
    this.name = 'NotifyQueryError';
  }

  static from(method: string, error: ServiceError): NotifyQueryError {
    return new NotifyQueryError((status[error.code] ?? 'UNKNOWN') as keyof typeof status, method, error.details || error.message);
  }
}
