import { status } from '@grpc/grpc-js';

/** A call's failure with the gRPC status the caller sees; the message goes to the caller, so it holds no secrets. */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }

  static invalidArgument(problems: string[]): RpcError {
    return new RpcError(status.INVALID_ARGUMENT, problems.join('; '));
  }

  static notFound(what: string): RpcError {
    return new RpcError(status.NOT_FOUND, `${what} not found`);
  }

  static unauthenticated(message: string): RpcError {
    return new RpcError(status.UNAUTHENTICATED, message);
  }

  static permissionDenied(message: string): RpcError {
    return new RpcError(status.PERMISSION_DENIED, message);
  }

  static unavailable(message: string): RpcError {
    return new RpcError(status.UNAVAILABLE, message);
  }
}
