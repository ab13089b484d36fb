import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';

/** A service the gRPC server serves: its definition from the .proto files and its methods. */
export interface GrpcService {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export const GRPC_SERVICES = Symbol('GRPC_SERVICES');
