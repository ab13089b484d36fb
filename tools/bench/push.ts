import { fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createPushProvider, isProviderError, type PushChannelProvider, type PushContent } from '@notify/channels';
import { startFakeApns, startFakeFcm } from '@notify/testing';
import { quantiles } from './quantiles';

/**
 * `npm run bench:push`: pushes through the APNs and FCM adapters to local servers that answer after
 * a simulated vendor latency. The servers run in a child process, so this process measures only
 * what a channel worker would spend: the adapters, their limits, HTTP/2 and HTTP/1.1 clients.
 */
const PUSHES = Number(process.env['BENCH_PUSHES'] ?? 20_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 256);
const LATENCY_MS = Number(process.env['BENCH_LATENCY_MS'] ?? 20);
const WARMUP = Math.min(1_000, PUSHES);

/** What the child reports, already in the shape of the drivers' configuration. */
interface ServerAddresses {
  apns: { baseUrl: string; teamId: string; keyId: string; topic: string; signingKey: string };
  fcm: { baseUrl: string; serviceAccountJson: string };
}

interface RunResult {
  provider: string;
  sent: number;
  failed: Record<string, number>;
  seconds: number;
  perSecond: number;
  /** Pushes per second of this process's own CPU time: what one fully busy core would carry. */
  perCpuSecond: number;
  p50: number;
  p99: number;
}

const content: PushContent = { title: 'Your order shipped', body: 'Order 1234 is on its way', data: { orderNo: '1234' } };

/** The child: both vendor-shaped servers, addresses sent to the parent, alive until disconnected. */
async function serveVendors(): Promise<void> {
  const apns = await startFakeApns({ latencyMs: LATENCY_MS, record: false });
  const fcm = await startFakeFcm({ latencyMs: LATENCY_MS, record: false });
  const addresses: ServerAddresses = {
    apns: { baseUrl: apns.url, teamId: apns.teamId, keyId: apns.keyId, topic: apns.topic, signingKey: apns.signingKey },
    fcm: { baseUrl: fcm.url, serviceAccountJson: fcm.serviceAccountJson },
  };
  process.send?.(addresses);
  process.on('disconnect', () => {
    void Promise.all([apns.close(), fcm.close()]).then(() => process.exit(0));
  });
}

function startVendors(): Promise<{ child: ChildProcess; addresses: ServerAddresses }> {
  const child = fork(__filename, ['--vendors'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (addresses) => resolve({ child, addresses: addresses as ServerAddresses }));
    child.once('exit', (code) => reject(new Error(`vendor servers exited with ${code}`)));
  });
}

/** Sends `count` pushes with at most `CONCURRENCY` in flight; every send's latency is kept. */
async function run(provider: PushChannelProvider, count: number): Promise<RunResult> {
  const latencies = new Float64Array(count);
  const failed: Record<string, number> = {};
  let next = 0;
  let sent = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next;
      next += 1;
      const token = (index % 4096).toString(16).padStart(64, '0');
      const begin = performance.now();
      try {
        await provider.send({ token, content });
        sent += 1;
      } catch (error) {
        const code = isProviderError(error) ? error.code : 'thrown';
        failed[code] = (failed[code] ?? 0) + 1;
      }
      latencies[index] = performance.now() - begin;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, lane));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const { at } = quantiles(latencies);
  return { provider: provider.id, sent, failed, seconds, perSecond: count / seconds, perCpuSecond: count / cpuSeconds, p50: at(0.5), p99: at(0.99) };
}

async function main(): Promise<void> {
  const { child, addresses } = await startVendors();
  // Limits wide enough that the adapters, not the guard, are what is measured; the guard still runs.
  const limits = { concurrency: CONCURRENCY, queue: CONCURRENCY * 2, ratePerSecond: 1_000_000, timeoutMs: 10_000 };
  const providers = [createPushProvider({ driver: 'apns', ...addresses.apns, limits }), createPushProvider({ driver: 'fcm', ...addresses.fcm, limits })];
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  out(`command: npm run bench:push   (BENCH_PUSHES=${PUSHES} BENCH_CONCURRENCY=${CONCURRENCY} BENCH_LATENCY_MS=${LATENCY_MS})`);
  out(`date: ${new Date().toISOString()}   node ${process.version}   ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`);
  out('');
  out(`${PUSHES} pushes per provider after ${WARMUP} to warm up, at most ${CONCURRENCY} in flight, vendor latency ${LATENCY_MS} ms;`);
  out('pushes/s is for this one process; per CPU-s divides by its own CPU time (the vendor servers run in a child');
  out('process on the same cores); p50/p99 are per-send latencies including the vendor latency.');
  out('');
  out('provider  pushes  failed  seconds  pushes/s  per CPU-s  p50 ms  p99 ms');
  try {
    for (const provider of providers) {
      await run(provider, WARMUP);
      const result = await run(provider, PUSHES);
      const failures = Object.values(result.failed).reduce((sum, n) => sum + n, 0);
      out(
        [
          result.provider.padEnd(8),
          String(result.sent).padStart(6),
          String(failures).padStart(7),
          result.seconds.toFixed(2).padStart(8),
          Math.round(result.perSecond).toString().padStart(9),
          Math.round(result.perCpuSecond).toString().padStart(9),
          result.p50.toFixed(1).padStart(7),
          result.p99.toFixed(1).padStart(7),
        ].join('  ') + (failures > 0 ? `   ${JSON.stringify(result.failed)}` : ''),
      );
    }
  } finally {
    await Promise.all(providers.map((provider) => provider.close()));
    child.disconnect();
  }
}

if (process.argv.includes('--vendors')) {
  void serveVendors();
} else {
  main().catch((error: unknown) => {
    process.stderr.write(`bench:push failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
