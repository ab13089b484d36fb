import { Global, Module, type DynamicModule } from '@nestjs/common';
import { HEALTH_LOGGER, HealthController, HealthRegistry } from './health';
import { createLogger, type AppLogger } from './logger';
import { Metrics, MetricsController } from './metrics';

export const APP_LOGGER = Symbol('APP_LOGGER');

/** Health, metrics and the logger of one app; global so every module can register checks and metrics. */
@Global()
@Module({})
export class ObservabilityModule {
  static forApp(app: string, logger: AppLogger = createLogger(app)): DynamicModule {
    return {
      module: ObservabilityModule,
      controllers: [HealthController, MetricsController],
      providers: [
        HealthRegistry,
        { provide: Metrics, useValue: new Metrics(app) },
        { provide: APP_LOGGER, useValue: logger },
        { provide: HEALTH_LOGGER, useValue: logger.child({ component: 'health' }) },
      ],
      exports: [HealthRegistry, Metrics, APP_LOGGER],
    };
  }
}
