import { resolve } from 'node:path';
import { startEmbedded, type LocalPostgres } from './local-postgres';

/**
 * `npm run db:embedded`: an embedded PostgreSQL for a machine without one. Prints
 * `DATABASE_URL=…` once it accepts connections; stops on Ctrl-C or SIGTERM, also one that came
 * while it started (PostgreSQL runs in a process group of its own and would outlive this process),
 * and, when `EMBEDDED_POSTGRES_OWNER_PID` names a process, once that process is gone (a test run
 * killed before its teardown).
 */
async function main(): Promise<void> {
  const dataDir = resolve(process.env.EMBEDDED_POSTGRES_DIR ?? resolve(__dirname, '../../.data/postgres'));
  const server: { started?: LocalPostgres; stopping?: boolean } = {};
  const stopNow = (started: LocalPostgres): void => void started.stop().then(() => process.exit(0));
  const stop = (): void => {
    if (server.stopping) return;
    server.stopping = true;
    if (server.started) stopNow(server.started);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const database = await startEmbedded(dataDir, Number(process.env.EMBEDDED_POSTGRES_PORT ?? 5433));
  server.started = database;
  if (server.stopping) return stopNow(database);
  process.stdout.write(`DATABASE_URL=${database.url}\n`);
  const owner = Number(process.env.EMBEDDED_POSTGRES_OWNER_PID);
  if (owner > 0) setInterval(() => isAlive(owner) || stop(), 1_000);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`embedded PostgreSQL failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
