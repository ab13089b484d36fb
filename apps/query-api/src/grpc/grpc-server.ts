import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { APP_LOGGER, HealthRegistry, type AppLogger } from '@notify/observability';

export interface GrpcSettings {
  grpcHost: string;
  grpcPort: number;
}
export const GRPC_SETTINGS = Symbol('GRPC_SETTINGS');

/** The gRPC server of notify.v1, with the standard health service reflecting the app's own health checks. */
@Injectable()
export class GrpcServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly server = new Server();
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private boundPort = 0;

  constructor(
    @Inject(GRPC_SETTINGS) private readonly settings: GrpcSettings,
    private readonly checks: HealthRegistry,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {
    this.health.addToServer(this.server);
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
    this.health.setStatus('', healthy ? 'SERVING' : 'NOT_SERVING');
    this.logger.info({ port: this.boundPort }, 'gRPC server listening');
  }

  async onApplicationShutdown(): Promise<void> {
    this.health.setStatus('', 'NOT_SERVING');
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
