import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { eventually, freePorts } from '@notify/testing';
import { PLATFORM_APPS } from './platform-apps';

const ROOT = resolve(__dirname, '../..');

async function healthStatus(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status;
  } catch {
    return 0;
  }
}

describe('npm start', () => {
  it('brings every app up healthy on its port, and Ctrl-C stops them all', async () => {
    const [grpcPort, ...appPorts] = await freePorts(PLATFORM_APPS.length + 1);
    const ports = Object.fromEntries(PLATFORM_APPS.map((app, i) => [app.portVariable, String(appPorts[i])]));
    // A secret of its own: without one `npm start` makes a development secret in the checkout's
    // .data/, which a developer's running platform signs its tokens with.
    const env = { ...process.env, ...ports, QUERY_API_GRPC_PORT: String(grpcPort), JWT_SECRET: randomBytes(32).toString('hex'), LOG_LEVEL: 'warn' };
    // Its own process group, so the signal reaches npm and everything under it, as Ctrl-C in a terminal does.
    const child = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await eventually(async () => output, (text) => text.includes('[start] ready') || text.includes('[start] failed'), { timeoutMs: 90_000, intervalMs: 250 });
      expect(output).toContain('[start] ready');
      for (const app of PLATFORM_APPS) {
        expect({ app: app.name, status: await healthStatus(Number(ports[app.portVariable])) }).toEqual({ app: app.name, status: 200 });
      }
    } finally {
      process.kill(-child.pid!, 'SIGINT');
    }
    await exited;
    expect(output).toContain('[start] stopped');
    for (const app of PLATFORM_APPS) {
      expect({ app: app.name, status: await healthStatus(Number(ports[app.portVariable])) }).toEqual({ app: app.name, status: 0 });
    }
  });
});
