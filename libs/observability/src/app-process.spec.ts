import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

describe('runMain', () => {
  function fixture(mode: 'fatal' | 'signal' | 'slow-start' | 'busy-start' | 'stuck-close') {
    const child = spawn('node', ['-r', '@swc-node/register', 'libs/observability/src/fatal-app.fixture.ts', mode], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let said!: () => void;
    const run = {
      child,
      output: '',
      /** Resolves once it has said its first line. */
      started: new Promise<void>((resolve) => (said = resolve)),
      exit: new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal }))),
    };
    child.stdout.on('data', (chunk: Buffer) => {
      run.output += chunk.toString();
      if (run.output.includes('\n')) said();
    });
    return run;
  }

  it('closes the app, letting its other consumers finish what they hold, before it exits 1 on a fatal error', async () => {
    const run = fixture('fatal');
    expect({ ...(await run.exit), output: run.output }).toEqual({ code: 1, signal: null, output: 'closed\n' });
  }, 60_000);

  it('closes the app on SIGTERM, ignoring a second one meanwhile, and exits 0', async () => {
    const run = fixture('signal');
    await run.started;
    run.child.kill('SIGTERM');
    run.child.kill('SIGTERM');
    // Exiting 0 by itself, not killed by the signal: as PID 1 of a container a process that leaves the
    // signal to its default action ignores it, and waited for the supervisor's SIGKILL.
    expect({ ...(await run.exit), output: run.output }).toEqual({ code: 0, signal: null, output: 'started\nclosed\n' });
  }, 60_000);

  /** How the fixture in `mode` ended after `signal`, sent once it said its first line. */
  async function afterSignal(mode: Parameters<typeof fixture>[0], signal: NodeJS.Signals = 'SIGTERM') {
    const run = fixture(mode);
    await run.started;
    run.child.kill(signal);
    return { ...(await run.exit), output: run.output };
  }

  it('closes an app that gets SIGTERM while it starts once it has started, rather than exiting mid-start', async () => {
    expect(await afterSignal('slow-start')).toEqual({ code: 0, signal: null, output: 'starting\nstarted\nclosed\n' });
  }, 60_000);

  it('closes an app that gets SIGTERM right after it said it started, while its start still runs', async () => {
    expect(await afterSignal('busy-start')).toEqual({ code: 0, signal: null, output: 'started\nclosed\n' });
  }, 60_000);

  it('exits 1 by itself when a consumer gives up while a close for a signal cannot end, once the fatal close time has passed', async () => {
    expect(await afterSignal('stuck-close')).toEqual({ code: 1, signal: null, output: 'started\n' });
  }, 60_000);

  it('closes the app on SIGHUP too (a terminal closed under npm start)', async () => {
    expect(await afterSignal('signal', 'SIGHUP')).toEqual({ code: 0, signal: null, output: 'started\nclosed\n' });
  }, 60_000);
});
