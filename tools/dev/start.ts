import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { runMigrations } from '@notify/persistence';
import { bannerLines, shownBrokers } from './banner';
import { provideDatabase, type LocalPostgres } from './local-postgres';
import { commandOf, httpPortOf, PLATFORM_APPS, type PlatformApp } from './platform-apps';

const ROOT = resolve(__dirname, '../..');
const KAFKA_SCRIPT = resolve(ROOT, 'tools/kafka/kafka.sh');
const HEALTH_WAIT_MS = 120_000;
const DATABASE_STOP_WAIT_MS = 15_000;
/** kafka.sh stop waits up to 30 s for the broker before it kills it. */
const KAFKA_STOP_WAIT_MS = 45_000;
const run = promisify(execFile);

const say = (line: string): void => void process.stdout.write(`[start] ${line}\n`);

interface Started {
  kafkaStartedHere: boolean;
  database?: LocalPostgres;
  children: Map<string, ChildProcess>;
}

/**
 * `npm start`: Kafka (the local KRaft broker unless KAFKA_BROKERS is set), PostgreSQL
 * (DATABASE_URL, else the local server, else embedded), the migrations, then every app.
 * Ctrl-C stops all of it.
 */
async function main(): Promise<void> {
  const started: Started = { kafkaStartedHere: false, children: new Map() };
  // One stop, however many signals: a second Ctrl-C waits for it rather than exiting in the middle
  // of stopping the broker, which then ran on with no one to stop it.
  let stopping: Promise<void> | undefined;
  const stop = async (code: number): Promise<never> => {
    stopping ??= stopAll(started);
    await stopping;
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  // A closed terminal: the apps stop themselves on SIGHUP; the broker and PostgreSQL are ours to stop.
  process.on('SIGHUP', () => void stop(129));
  process.stdout.on('error', () => undefined);
  // A failed step stops what was started, and so does a failure outside the steps (a library's process
  // erroring in the background, as the embedded PostgreSQL's initdb does when it cannot run).
  const crashed = (error: unknown): void => {
    say(`failed: ${error instanceof Error ? error.message : String(error)}`);
    void stop(1);
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);

  try {
    const env: NodeJS.ProcessEnv = { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' };
    env.KAFKA_BROKERS = await provideKafka(env, started);
    if (stopping) return;
    started.database = await provideDatabase(env, resolve(ROOT, '.data'), say);
    env.DATABASE_URL = started.database.url;
    say(`PostgreSQL: ${started.database.source}`);
    // Stopped while the database started: the stop went past it.
    if (stopping) return void (await within(started.database.stop(), DATABASE_STOP_WAIT_MS, 'PostgreSQL stop'));
    const applied = await runMigrations({ databaseUrl: env.DATABASE_URL });
    say(applied.length > 0 ? `applied migrations: ${applied.join(', ')}` : 'schema is up to date');
    // Stopped while it started: no app is started that the stop already went past.
    if (stopping) return;
    const devSecret = !env.JWT_SECRET && !env.JWT_PUBLIC_KEY;
    if (devSecret) env.JWT_SECRET = randomBytes(24).toString('hex');
    // Tracked links on the local stack: they last as long as this run (another run signs with another secret).
    env.CLICK_SECRET ??= randomBytes(32).toString('hex');
    env.CLICK_BASE_URL ??= `http://127.0.0.1:${env.GATEWAY_PORT ?? 3000}`;
    // The demo page's own origins: the gateway serves it, so those are the only pages that connect here.
    env.GATEWAY_ALLOWED_ORIGINS ??= ['127.0.0.1', 'localhost'].map((host) => `http://${host}:${env.GATEWAY_PORT ?? 3000}`).join(',');

    for (const app of PLATFORM_APPS) {
      const child = startApp(app, env);
      started.children.set(app.name, child);
      child.once('exit', (code, signal) => {
        if (stopping) return;
        say(`${app.name} exited (${signal ?? `code ${code}`}); stopping the platform`);
        void stop(1);
      });
    }
    await Promise.all(PLATFORM_APPS.map((app) => waitForHealth(app, env)));
    printBanner(env, devSecret);
  } catch (error) {
    crashed(error);
  }
}

async function provideKafka(env: NodeJS.ProcessEnv, started: Started): Promise<string> {
  if (env.KAFKA_BROKERS) {
    say(`Kafka: using KAFKA_BROKERS ${shownBrokers(env.KAFKA_BROKERS)}`);
    return env.KAFKA_BROKERS;
  }
  say('Kafka: starting the local KRaft broker (tools/kafka/kafka.sh)');
  // Known before the start returns: a Ctrl-C during a first start (the download, the wait for the
  // broker) must stop the broker it launched, and a broker that was running before is not ours to stop.
  started.kafkaStartedHere = await run('bash', [KAFKA_SCRIPT, 'status'], { env }).then(
    () => false,
    () => true,
  );
  try {
    // A broker started here goes when this process does, however it ends: had it crashed, the broker
    // ran on, and the next `npm start` found it running and took it for one it must not stop.
    const owner = started.kafkaStartedHere ? { KAFKA_OWNER_PID: String(process.pid) } : {};
    const { stdout } = await run('bash', [KAFKA_SCRIPT, 'start'], { env: { ...env, ...owner }, maxBuffer: 8 * 1024 * 1024 });
    const line = stdout.split('\n').find((l) => l.startsWith('KAFKA_BROKERS='));
    if (!line) throw new Error('kafka.sh start did not print KAFKA_BROKERS');
    return line.slice('KAFKA_BROKERS='.length).trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(stderr || (error instanceof Error ? error.message : String(error)));
  }
}

function startApp(app: PlatformApp, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, commandOf(app).slice(1), {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${app.name}] ${line}\n`));
  }
  return child;
}

async function waitForHealth(app: PlatformApp, env: NodeJS.ProcessEnv): Promise<void> {
  const url = `http://127.0.0.1:${httpPortOf(app, env)}/health`;
  const deadline = Date.now() + HEALTH_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${app.name} did not become healthy at ${url} within ${HEALTH_WAIT_MS / 1000} s`);
}

/**
 * The development secret is also kept in a file readable by its owner only, for scripts that sign
 * tokens; the banner prints it too (contract §7). It is new on every run and signs tokens for any
 * user of this local platform only.
 */
function saveDevSecret(secret: string): string {
  const file = join(ROOT, '.data', 'dev-jwt-secret');
  mkdirSync(join(ROOT, '.data'), { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

function printBanner(env: NodeJS.ProcessEnv, devSecret: boolean): void {
  const secretFile = devSecret ? relative(ROOT, saveDevSecret(env.JWT_SECRET!)) : undefined;
  process.stdout.write(bannerLines(env, secretFile).join('\n') + '\n');
  say('ready');
}

async function stopAll(started: Started): Promise<void> {
  say('stopping');
  await Promise.all([...started.children].map(([name, child]) => stopChild(child, PLATFORM_APPS.find((app) => app.name === name)!.stopWaitMs)));
  // After the apps, which record what they did until they exit: embedded PostgreSQL runs in a process
  // group of its own, so the terminal's Ctrl-C does not reach it first. Bounded: should it have gone
  // already, its package waits for ever for an exit that came before, and the broker must be stopped anyway.
  if (started.database) await within(started.database.stop(), DATABASE_STOP_WAIT_MS, 'PostgreSQL stop');
  if (started.kafkaStartedHere) await within(run('bash', [KAFKA_SCRIPT, 'stop']), KAFKA_STOP_WAIT_MS, 'Kafka stop');
  say('stopped');
}

/** Waits for `step` at most `ms`, saying so when it failed or took longer. */
async function within(step: Promise<unknown>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`${what} took over ${ms / 1000} s; going on`), ms)));
  const outcome = await Promise.race([step.then(() => undefined, (e: unknown) => `${what} failed: ${String(e)}`), late]);
  clearTimeout(timer);
  if (outcome) say(outcome);
}

function stopChild(child: ChildProcess, waitMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), waitMs);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

void main();
