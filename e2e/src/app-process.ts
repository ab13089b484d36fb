import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { eventually } from '@notify/testing';

const ROOT = resolve(__dirname, '../..');

/** An app running in its own Node process, as `npm start` and production run it. */
export class AppProcess {
  private child?: ChildProcess;
  output = '';
  exitCode: Promise<number | null> = Promise.resolve(null);

  constructor(
    private readonly main: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly healthPort: number,
    /** Node flags before the app's own, e.g. `--cpu-prof` for a profile (not allowed in NODE_OPTIONS). */
    private readonly nodeFlags: string[] = [],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the process started last is still running. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the app and resolves when its GET /health answers 200. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [...this.nodeFlags, '-r', '@swc-node/register', resolve(ROOT, this.main)], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exitCode = new Promise((done) => child.once('exit', (code) => done(code)));
    await eventually(() => this.health(), (status) => status === 200, { timeoutMs: 60_000, intervalMs: 200 });
  }

  async health(): Promise<number> {
    try {
      return (await fetch(`http://127.0.0.1:${this.healthPort}/health`)).status;
    } catch {
      return 0;
    }
  }

  /** Ends the process with the signal and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exitCode;
  }
}
