import { resolve } from 'node:path';
import { startEmbedded } from './local-postgres';

/**
 * `npm run db:embedded`: an embedded PostgreSQL for a machine without one. Prints
 * `DATABASE_URL=…` once it accepts connections; stops on Ctrl-C or SIGTERM.
 */
async function main(): Promise<void> {
  const dataDir = resolve(process.env.EMBEDDED_POSTGRES_DIR ?? resolve(__dirname, '../../.data/postgres'));
  const database = await startEmbedded(dataDir, Number(process.env.EMBEDDED_POSTGRES_PORT ?? 5433));
  const stop = (): void => void database.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`DATABASE_URL=${database.url}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`embedded PostgreSQL failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
