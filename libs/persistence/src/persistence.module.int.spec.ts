import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { createLogger, HealthRegistry, ObservabilityModule } from '@notify/observability';
import type { TestDatabase } from '@notify/testing';
import { IDLE_IN_TRANSACTION_TIMEOUT_MS, MIGRATIONS, poolOf } from './data-source';
import { QUERY_API_ROLE } from './migrations/1763600000012-query-api-role';
import { MigrationsReadable1763600000028 } from './migrations/1763600000028-migrations-readable';
import { databaseBefore, migratedDatabase } from './migrated-database.spec-helper';
import { PersistenceModule } from './persistence.module';
import { withSessionSettings } from './session-settings';

/** An app's context with PersistenceModule on `databaseUrl`; a failed start is thrown, as `startHttpApp` has it. */
const start = (databaseUrl: string, keepPoolOpen = false, logger = createLogger('persistence-spec', 'silent')) =>
  NestFactory.createApplicationContext(
    {
      module: class SpecModule {},
      imports: [
        ObservabilityModule.forApp('persistence-spec', logger),
        PersistenceModule.forRoot({ databaseUrl, databasePoolSize: 2, keepPoolOpen }),
      ],
    },
    { logger: false, abortOnError: false },
  );

describe('PersistenceModule health check', () => {
  const database = migratedDatabase(1);

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

describe('PersistenceModule with its pool opened at start (keepPoolOpen)', () => {
  const database = migratedDatabase(1);

  it('starts and answers when PostgreSQL gives fewer connections than the pool wants, and says so in a warning', async () => {
    // Every app's pools together over max_connections: the query API refused to start on the first
    // connection refused, and its supervisor's restarts took connections from the other apps.
    const role = `pool_spec_${randomBytes(4).toString('hex')}`;
    const admin = database.dataSource();
    await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
    const url = new URL(database.url());
    url.username = role;
    const lines: string[] = [];
    try {
      // The pool wants 2; the role may open 1.
      const app = await start(url.toString(), true, createLogger('persistence-spec', 'warn', { write: (line: string) => void lines.push(line) }));
      try {
        expect(await app.get(DataSource).query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      } finally {
        await app.close();
      }
    } finally {
      await admin.query(`DROP ROLE ${role}`);
    }
    const warnings = lines.map((line) => JSON.parse(line) as { msg: string; missing?: number; wanted?: number });
    expect(warnings).toContainEqual(expect.objectContaining({ missing: 1, wanted: 2, msg: expect.stringContaining('max_connections') }));
  });
});

/** An app of a new version started before `npm run migrate` (one service updated ahead of the step), and one of the version before. */
describe('PersistenceModule on a database of another version', () => {
  describe('without the latest migrations', () => {
    const missing = MIGRATIONS.slice(MIGRATIONS.indexOf(MigrationsReadable1763600000028)).map((migration) => migration.name);
    let database: TestDatabase;
    beforeAll(async () => {
      database = await databaseBefore(MigrationsReadable1763600000028);
    });
    afterAll(() => database.drop());

    it('refuses to start, naming the missing migrations and the step to run', async () => {
      await expect(start(database.url)).rejects.toThrow(`this version needs (${missing.join(', ')}): run \`npm run migrate\` first`);
    });

    it('refuses to start as a role that may not read the migrations yet, saying so', async () => {
      await expect(start(withSessionSettings(database.url, { role: QUERY_API_ROLE }))).rejects.toThrow(`role ${QUERY_API_ROLE} may not read schema_migrations`);
    });
  });

  describe('with every migration', () => {
    const database = migratedDatabase(1);

    it('starts, also as the query API’s restricted role', async () => {
      for (const url of [database.url(), withSessionSettings(database.url(), { role: QUERY_API_ROLE })]) {
        const app = await start(url);
        try {
          expect(await app.get(HealthRegistry).run()).toEqual({ healthy: true, checks: { postgres: 'up' } });
        } finally {
          await app.close();
        }
      }
    });

    it('starts with a migration of a newer version applied, which this code does not know', async () => {
      await database.dataSource().query(`INSERT INTO schema_migrations (timestamp, name) VALUES (1999999999999, 'FromANewerVersion1999999999999')`);
      try {
        const app = await start(database.url());
        await app.close();
      } finally {
        await database.dataSource().query(`DELETE FROM schema_migrations WHERE name = 'FromANewerVersion1999999999999'`);
      }
    });
  });
});
