import type { INestApplication } from '@nestjs/common';
import type { QueryApiConfig } from '@notify/config';
import { freePort, startHttpApp, type AppLogger } from '@notify/observability';
import { GrpcHealth, grpcTransport } from './grpc/grpc-transport';
import { QueryApiModule } from './query-api.module';

const grpcPorts = new WeakMap<INestApplication, number>();

/** The query API: the gRPC transport of notify.v1 (with health and reflection), and /health and /metrics over HTTP. */
export async function startQueryApi(config: QueryApiConfig, logger: AppLogger): Promise<INestApplication> {
  // The transport does not report the port it bound, so port 0 becomes a free port chosen here.
  const grpcPort = config.grpcPort === 0 ? await freePort(config.grpcHost) : config.grpcPort;
  const app = await startHttpApp(QueryApiModule.register(config, logger), {
    port: config.httpPort,
    logger,
    beforeListen: async (created) => {
      created.connectMicroservice(grpcTransport({ grpcHost: config.grpcHost, grpcPort }, created.get(GrpcHealth)), { inheritAppConfig: true });
      await created.startAllMicroservices();
    },
  });
  grpcPorts.set(app, grpcPort);
  return app;
}

/** The port the gRPC server listens on (the one chosen when it was configured as port 0). */
export function grpcPortOf(app: INestApplication): number {
  return grpcPorts.get(app) ?? 0;
}
