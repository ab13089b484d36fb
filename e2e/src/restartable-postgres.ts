import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { eventually } from '@notify/testing';

const ROOT = resolve(__dirname, '../..');

/**
 * A PostgreSQL server of the suite's own (`npm run db:embedded`), so it can be stopped and started
 * again: a real restart cuts every session, refuses new connections while it is down, and comes
 * back on the same data.
 */
export class RestartablePostgres {
  private child?: ChildProcess;
  private exited: Promise<number | null> = Promise.resolve(null);
  url = '';

  constructor(
    private readonly dataDir: string,
    private readonly port: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'tools/dev/embedded-postgres.ts'], {
      cwd: ROOT,
      env: { ...process.env, EMBEDDED_POSTGRES_DIR: this.dataDir, EMBEDDED_POSTGRES_PORT: String(this.port), EMBEDDED_POSTGRES_OWNER_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((done) => child.once('exit', (code) => done(code)));
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(async () => output, (text) => /DATABASE_URL=\S+\n|failed/.test(text), { timeoutMs: 90_000, intervalMs: 100 });
    const url = /DATABASE_URL=(\S+)/.exec(output)?.[1];
    if (!url) throw new Error(`embedded PostgreSQL did not start: ${output}`);
    this.url = url;
  }

  /** A fast shutdown, as `pg_ctl stop` and a service manager's stop do: every session is cut. */
  async stop(): Promise<number | null> {
    this.child?.kill('SIGTERM');
    return this.exited;
  }

  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.url });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }
}
