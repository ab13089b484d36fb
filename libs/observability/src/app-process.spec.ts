import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

describe('runMain', () => {
  it('closes the app, letting its other consumers finish what they hold, before it exits 1 on a fatal error', async () => {
    const child = spawn('node', ['-r', '@swc-node/register', 'libs/observability/src/fatal-app.fixture.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', (exitCode) => done(exitCode)));
    expect({ code, output }).toEqual({ code: 1, output: 'closed\n' });
  }, 60_000);
});
