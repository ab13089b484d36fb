import 'reflect-metadata';
import { databaseSettings, loadConfig } from '@notify/config';
import { runMigrations } from '@notify/persistence';

/** `npm run migrate`: applies pending migrations to DATABASE_URL, as its own step before the apps start. */
async function main(): Promise<void> {
  const config = loadConfig('migrate', databaseSettings);
  const applied = await runMigrations(config);
  process.stdout.write(applied.length > 0 ? `applied migrations: ${applied.join(', ')}\n` : 'schema is up to date\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
