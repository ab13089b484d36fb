import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { createLogger, HealthRegistry, ObservabilityModule } from '@notify/observability';
import { IDLE_IN_TRANSACTION_TIMEOUT_MS, poolOf } from './data-source';
import { migratedDatabase } from './migrated-database.spec-helper';
import { PersistenceModule } from './persistence.module';

describe('PersistenceModule health check', () => {
  const database = migratedDatabase(1);

  const start = (databaseUrl: string, keepPoolOpen = false) =>
    NestFactory.createApplicationContext(
      {
        module: class SpecModule {},
        imports: [
          ObservabilityModule.forApp('persistence-spec', createLogger('persistence-spec', 'silent')),
          PersistenceModule.forRoot({ databaseUrl, databasePoolSize: 2, keepPoolOpen }),
        ],
      },
      { logger: false },
    );

  it('has PostgreSQL end a session left waiting in a transaction, so a vanished client’s locks do not outlive it for hours', async () => {
    const app = await start(database.url());
    try {
      const [setting] = (await app.get(DataSource).query(`SELECT setting FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'`)) as { setting: string }[];
      expect(Number(setting!.setting)).toBe(IDLE_IN_TRANSACTION_TIMEOUT_MS);
    } finally {
      await app.close();
    }
  });

  it('reports PostgreSQL up while every pooled connection is busy with the app’s own statements', async () => {
    const app = await start(database.url());
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

  it('reports PostgreSQL up when its role may open no connection beyond the pool’s', async () => {
    const role = `health_spec_${randomBytes(4).toString('hex')}`;
    const admin = database.dataSource();
    await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 2`);
    const url = new URL(database.url());
    url.username = role;
    try {
      const app = await start(url.toString(), true);
      try {
        expect(await app.get(HealthRegistry).run()).toEqual({ healthy: true, checks: { postgres: 'up' } });
      } finally {
        await app.close();
      }
    } finally {
      await admin.query(`DROP ROLE ${role}`);
    }
  });
});
