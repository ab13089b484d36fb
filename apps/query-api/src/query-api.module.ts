import { Module, type DynamicModule } from '@nestjs/common';
import type { QueryApiConfig } from '@notify/config';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { PersistenceModule } from '@notify/persistence';
import { GRPC_SETTINGS, GrpcServer } from './grpc/grpc-server';

@Module({})
export class QueryApiModule {
  static register(config: QueryApiConfig, logger: AppLogger): DynamicModule {
    return {
      module: QueryApiModule,
      imports: [
        ObservabilityModule.forApp('query-api', logger),
        PersistenceModule.forRoot({ ...config, applicationName: 'query-api' }),
      ],
      providers: [{ provide: GRPC_SETTINGS, useValue: config }, GrpcServer],
    };
  }
}
