import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { createLogger, HealthRegistry, ObservabilityModule } from '@notify/observability';
import { poolOf } from './data-source';
import { migratedDatabase } from './migrated-database.spec-helper';
import { PersistenceModule } from './persistence.module';

describe('PersistenceModule health check', () => {
  const database = migratedDatabase(1);

  it('reports PostgreSQL up while every pooled connection is busy with the app’s own statements', async () => {
    const app = await NestFactory.createApplicationContext(
      {
        module: class SpecModule {},
        imports: [ObservabilityModule.forApp('persistence-spec', createLogger('persistence-spec', 'silent')), PersistenceModule.forRoot({ databaseUrl: database.url(), databasePoolSize: 2 })],
      },
      { logger: false },
    );
    try {
      const pool = poolOf(app.get(DataSource));
      const taken = await Promise.all([pool.connect(), pool.connect()]);
      try {
        expect(await app.get(HealthRegistry).run()).toEqual({ healthy: true, checks: { postgres: 'up' } });
      } finally {
        for (const client of taken) client.release();
      }
    } finally {
      await app.close();
    }
  });
});
