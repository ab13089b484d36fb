import type { INestApplication } from '@nestjs/common';
import type { QueryApiConfig } from '@notify/config';
import { startHttpApp, type AppLogger } from '@notify/observability';
import { GrpcServer } from './grpc/grpc-server';
import { QueryApiModule } from './query-api.module';

export function startQueryApi(config: QueryApiConfig, logger: AppLogger): Promise<INestApplication> {
  return startHttpApp(QueryApiModule.register(config, logger), { port: config.httpPort, logger });
}

/** The port the gRPC server listens on (useful when it was started on port 0). */
export function grpcPortOf(app: INestApplication): number {
  return app.get(GrpcServer).port;
}
