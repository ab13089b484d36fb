import type { DataSource } from 'typeorm';
import { queryRows } from './stores/rows';

export type SchemaVersionErrorCode = 'migrations_missing' | 'migrations_unreadable';

/** The database's schema is not the one this version of the code was written for, or cannot be known. */
export class SchemaVersionError extends Error {
  constructor(
    readonly code: SchemaVersionErrorCode,
    message: string,
    /** The migrations this code knows and the database has not applied, in order. */
    readonly missing: readonly string[] = [],
  ) {
    super(message);
    this.name = 'SchemaVersionError';
  }
}

/**
 * The names of the migrations `dataSource` knows that its database has not applied, in their order;
 * every one of them when it has no migrations table yet. Migrations the database has and this code
 * does not know (applied for a newer version) are no concern of it.
 */
export async function missingMigrations(dataSource: DataSource): Promise<string[]> {
  const table = migrationsTable(dataSource);
  const [found] = await queryRows<{ role: string; present: boolean; readable: boolean }>(
    dataSource,
    `SELECT current_user AS role, t.oid IS NOT NULL AS present, t.oid IS NOT NULL AND has_table_privilege(t.oid, 'SELECT') AS readable
       FROM (SELECT to_regclass($1) AS oid) t`,
    [table],
  );
  const known = dataSource.migrations.map((migration) => migration.name ?? migration.constructor.name);
  if (!found?.present) return known;
  if (!found.readable) {
    throw new SchemaVersionError(
      'migrations_unreadable',
      `role ${found.role} may not read ${table}, so whether the database has every migration this version needs is unknown: run \`npm run migrate\` (its migrations let every role read it), or GRANT SELECT ON ${table} TO ${found.role}`,
    );
  }
  const applied = new Set((await queryRows<{ name: string }>(dataSource, `SELECT name FROM ${table}`, [])).map((row) => row.name));
  return known.filter((name) => !applied.has(name));
}

/**
 * Refuses an app's start on a database that lacks a migration this code knows: an app of a new
 * version started before `npm run migrate` (one service updated ahead of the step) failed on every
 * write that needed the new schema while its health check said it was up. A database with
 * migrations this code does not know is accepted: the apps of the version before go on running
 * while a new version's are rolled out.
 */
export async function requireMigrations(dataSource: DataSource): Promise<void> {
  const missing = await missingMigrations(dataSource);
  if (missing.length === 0) return;
  throw new SchemaVersionError(
    'migrations_missing',
    `the database lacks ${missing.length === 1 ? 'a migration' : `${missing.length} migrations`} this version needs (${missing.join(', ')}): run \`npm run migrate\` first, then start the app`,
    missing,
  );
}

/** TypeORM's own default, for a DataSource whose options name none. */
function migrationsTable(dataSource: DataSource): string {
  return dataSource.options.migrationsTableName ?? 'migrations';
}
