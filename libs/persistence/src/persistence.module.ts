import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_LOGGER, HealthRegistry, type AppLogger } from '@notify/observability';
import { createDataSource, openPool, poolOf, type DatabaseSettings } from './data-source';
import { HealthConnection } from './health-connection';
import { requireMigrations } from './schema-version';
import { DeliveryOutcomeStore } from './stores/delivery-outcome.store';
import { FallbackStore } from './stores/fallback.store';
import { InboxStore } from './stores/inbox.store';
import { IngestStore } from './stores/ingest.store';
import { RecipientStore } from './stores/recipient.store';
import { ResendStore } from './stores/resend.store';

/**
 * The app's DataSource, its stores and a `postgres` health check. Migrations run as their own step,
 * never here: a database that lacks one this code knows is refused at start (`requireMigrations`).
 */
@Global()
@Module({})
export class PersistenceModule implements OnModuleInit, OnApplicationShutdown {
  private healthConnection?: HealthConnection;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
  ) {}

  static forRoot(settings: DatabaseSettings): DynamicModule {
    return {
      module: PersistenceModule,
      providers: [
        {
          provide: DataSource,
          inject: [APP_LOGGER],
          useFactory: async (logger: AppLogger) => {
            const dataSource = await createDataSource(settings).initialize();
            try {
              await requireMigrations(dataSource);
              const shortfall = settings.keepPoolOpen ? await openPool(dataSource, settings) : undefined;
              if (shortfall) {
                logger.warn(
                  shortfall,
                  `PostgreSQL gave ${shortfall.wanted - shortfall.missing} of the ${shortfall.wanted} connections opened at start; the rest open when calls need them (check max_connections against every app's DATABASE_POOL_SIZE)`,
                );
              }
              return dataSource;
            } catch (error) {
              // Nothing closes a module whose start failed: its pool would be left open.
              await dataSource.destroy();
              throw error;
            }
          },
        },
        { provide: IngestStore, useFactory: (ds: DataSource) => new IngestStore(ds), inject: [DataSource] },
        { provide: DeliveryOutcomeStore, useFactory: (ds: DataSource) => new DeliveryOutcomeStore(ds), inject: [DataSource] },
        { provide: RecipientStore, useFactory: (ds: DataSource) => new RecipientStore(ds), inject: [DataSource] },
        { provide: FallbackStore, useFactory: (ds: DataSource) => new FallbackStore(ds), inject: [DataSource] },
        { provide: InboxStore, useFactory: (ds: DataSource) => new InboxStore(ds), inject: [DataSource] },
        { provide: ResendStore, useFactory: (ds: DataSource) => new ResendStore(ds), inject: [DataSource] },
      ],
      exports: [DataSource, IngestStore, DeliveryOutcomeStore, RecipientStore, FallbackStore, InboxStore, ResendStore],
    };
  }

  onModuleInit(): void {
    const connection = (this.healthConnection = new HealthConnection(poolOf(this.dataSource)));
    this.health.register('postgres', () => connection.check());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.healthConnection?.close();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
