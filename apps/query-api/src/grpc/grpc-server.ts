import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { APP_LOGGER, HealthRegistry, type AppLogger } from '@notify/observability';
import { GRPC_SERVICES, type GrpcService } from './grpc-service';

export interface GrpcSettings {
  grpcHost: string;
  grpcPort: number;
}
export const GRPC_SETTINGS = Symbol('GRPC_SETTINGS');

/**
 * The gRPC server of notify.v1 on @grpc/grpc-js: the app's services, and the standard health
 * service reflecting the app's own health checks (for the whole server and for each service).
 */
@Injectable()
export class GrpcServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly server = new Server();
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private readonly serviceNames: string[] = [];
  private boundPort = 0;

  constructor(
    @Inject(GRPC_SETTINGS) private readonly settings: GrpcSettings,
    @Inject(GRPC_SERVICES) services: GrpcService[],
    private readonly checks: HealthRegistry,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {
    this.health.addToServer(this.server);
    for (const service of services) {
      this.server.addService(service.definition, service.implementation);
      this.serviceNames.push(serviceNameOf(service));
    }
  }

  get port(): number {
    return this.boundPort;
  }

  async onApplicationBootstrap(): Promise<void> {
    const address = `${this.settings.grpcHost}:${this.settings.grpcPort}`;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    const { healthy } = await this.checks.run();
    for (const name of ['', ...this.serviceNames]) this.health.setStatus(name, healthy ? 'SERVING' : 'NOT_SERVING');
    this.logger.info({ port: this.boundPort, services: this.serviceNames }, 'gRPC server listening');
  }

  async onApplicationShutdown(): Promise<void> {
    for (const name of ['', ...this.serviceNames]) this.health.setStatus(name, 'NOT_SERVING');
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

/** The fully qualified name health checks use (`notify.v1.MessageQuery`), read from the method paths. */
function serviceNameOf(service: GrpcService): string {
  const [method] = Object.values(service.definition);
  return method ? method.path.split('/')[1]! : '';
}
