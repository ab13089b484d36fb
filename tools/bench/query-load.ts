import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import type { MethodDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { H2GrpcCaller } from './h2-grpc';
import { quantiles } from './quantiles';

/**
 * The load generator of `npm run bench:query`, a process of its own with little more than HTTP/2 and
 * the .proto files loaded: its heap stays small, so its own garbage collection — which would count
 * as latency — stays short. It reads a job (JSON) from stdin, warms up, prints `warm`, waits for a
 * line, runs the measured phase and prints the result (JSON).
 */
export interface LoadJob {
  address: string;
  apiKey: string;
  protoDir: string;
  protoFiles: string[];
  method: 'ListMessages' | 'GetMessage';
  users: number;
  pageSize: number;
  ids: string[];
  channels: number;
  /** Open loop: a call every 1/rate s. Closed loop: `concurrency` calls in flight. */
  phase: { kind: 'open'; rate: number; seconds: number } | { kind: 'closed'; concurrency: number; seconds: number };
}

export interface LoadResult {
  mode: string;
  calls: number;
  errors: number;
  /** The first few failures, to show what went wrong. */
  failures: string[];
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU milliseconds this process spent during the measured phase. */
  cpuMs: number;
  /** Replies decoded and checked against the request (every 50th). */
  checked: number;
}

type Call = (client: H2GrpcCaller) => Promise<void>;

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const job = JSON.parse((await lines.next()).value as string) as LoadJob;
  const definition = loadSync(job.protoFiles, { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: [job.protoDir] });
  const { path, requestSerialize, responseDeserialize } = (definition['notify.v1.MessageQuery'] as Record<string, MethodDefinition<object, unknown>>)[job.method]!;
  const clients = Array.from({ length: job.channels }, () => new H2GrpcCaller(job.address, { 'x-api-key': job.apiKey }));
  const failures: string[] = [];
  let replies = 0;
  let checked = 0;
  // Every possible request, encoded before the clock starts; each call picks one at random.
  const requests: Record<string, unknown>[] =
    job.method === 'GetMessage'
      ? job.ids.map((id) => ({ id }))
      : Array.from({ length: job.users }, (_, user) => ({ userId: `bench-user-${user}`, pageSize: job.pageSize }));
  const encoded = requests.map((request) => requestSerialize(request));
  const call: Call = async (client) => {
    const pick = Math.floor(Math.random() * requests.length);
    const request = requests[pick]!;
    const reply = await client.call(path, encoded[pick]!);
    if (replies++ % 50 === 0) {
      checked += 1;
      const wrong = wrongReply(job, request, responseDeserialize(reply) as Record<string, unknown>);
      if (wrong) throw new Error(wrong);
    }
  };
  const failed = (error: unknown) => void (failures.length < 5 && failures.push(error instanceof Error ? error.message : String(error)));

  // Warmed up at the measured rate, so what is measured is the steady state, not the ramp to it.
  await openLoop(clients, call, job.phase.kind === 'open' ? job.phase.rate : 200, 3, failed);
  process.stdout.write('warm\n');
  await lines.next();
  checked = 0;
  failures.length = 0;
  const cpuBefore = process.cpuUsage();
  const measured =
    job.phase.kind === 'open'
      ? await openLoop(clients, call, job.phase.rate, job.phase.seconds, failed)
      : await closedLoop(clients, call, job.phase.concurrency, job.phase.seconds, failed);
  const cpu = process.cpuUsage(cpuBefore);
  for (const client of clients) client.close();
  const result: LoadResult = { ...measured, failures, cpuMs: (cpu.user + cpu.system) / 1000, checked };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Why a reply is not what was asked for (counted as an error), or undefined. */
function wrongReply(job: LoadJob, request: Record<string, unknown>, reply: Record<string, unknown>): string | undefined {
  const messages = job.method === 'GetMessage' ? [reply] : ((reply.messages ?? []) as Record<string, unknown>[]);
  const wrong =
    job.method === 'GetMessage'
      ? reply.id !== request.id
      : messages.length !== job.pageSize || messages.some((m) => ((m.deliveries ?? []) as { userId?: string }[]).some((d) => d.userId !== request.userId));
  return wrong ? `${job.method} answered ${JSON.stringify(reply).slice(0, 300)} to ${JSON.stringify(request)}` : undefined;
}

type Measured = Pick<LoadResult, 'mode' | 'calls' | 'errors' | 'perSecond' | 'p50' | 'p99' | 'max'>;

/** A call every 1/rate s for `seconds`, spread over the clients; latency counts from when the call was due. */
async function openLoop(clients: H2GrpcCaller[], call: Call, rate: number, seconds: number, failed: (error: unknown) => void): Promise<Measured> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let errors = 0;
  let outstanding = 0;
  let drained: (() => void) | undefined;
  const settled = () => {
    outstanding -= 1;
    if (outstanding === 0) drained?.();
  };
  const began = performance.now();
  for (let n = 0; n < total; n++) {
    const due = began + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    outstanding += 1;
    call(clients[n % clients.length]!).then(
      () => {
        latencies.push(performance.now() - due);
        settled();
      },
      (error: unknown) => {
        errors += 1;
        failed(error);
        settled();
      },
    );
  }
  if (outstanding > 0) await new Promise<void>((r) => (drained = r));
  return summary(`open loop, ${rate}/s for ${seconds} s`, latencies, errors, (performance.now() - began) / 1000);
}

/** `concurrency` calls in flight for `seconds`: the most this setup answers. */
async function closedLoop(clients: H2GrpcCaller[], call: Call, concurrency: number, seconds: number, failed: (error: unknown) => void): Promise<Measured> {
  const latencies: number[] = [];
  let errors = 0;
  const began = performance.now();
  const stopAt = began + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < stopAt) {
        const started = performance.now();
        await call(clients[worker % clients.length]!).then(
          () => void latencies.push(performance.now() - started),
          (error: unknown) => {
            errors += 1;
            failed(error);
          },
        );
      }
    }),
  );
  return summary(`closed loop, ${concurrency} in flight for ${seconds} s`, latencies, errors, (performance.now() - began) / 1000);
}

function summary(mode: string, latencies: number[], errors: number, seconds: number): Measured {
  const { at, max } = quantiles(latencies);
  return { mode, calls: latencies.length, errors, perSecond: latencies.length / seconds, p50: at(0.5), p99: at(0.99), max };
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`load generator failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
