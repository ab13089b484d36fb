import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { createLogger, NestPinoLogger, type AppLogger } from './logger';

export interface HttpAppOptions {
  port: number;
  host?: string;
  logger: AppLogger;
  /** Runs on the created app before it listens: to connect and start microservice transports, say. */
  beforeListen?: (app: INestApplication) => Promise<void>;
}

/**
 * How long an app that cannot go on may take to close before it exits anyway: the channel worker's
 * stop grace period, in which it finishes and records the chunk of sends in hand.
 */
const FATAL_CLOSE_MS = 60_000;

/**
 * Creates a NestJS app with the redacting logger, listening on its HTTP port; `runMain` closes it on a
 * stop signal. A start that fails is closed before it is reported, within `closeMs`: `listen` starts
 * the consumers before it binds the port, and a port already taken left them in their groups, holding
 * their partitions until the session timed out, at every restart of the supervisor's.
 */
export async function startHttpApp(module: unknown, options: HttpAppOptions, closeMs = FATAL_CLOSE_MS): Promise<INestApplication> {
  const app = await NestFactory.create(module as never, { logger: new NestPinoLogger(options.logger), abortOnError: false });
  try {
    await options.beforeListen?.(app);
    await app.listen(options.port, options.host ?? '0.0.0.0');
  } catch (error) {
    await Promise.race([app.close().catch((closeError: unknown) => options.logger.error({ err: closeError }, 'an app that failed to start did not close cleanly')), closeBound(closeMs)]);
    throw error;
  }
  return app;
}

/** The port an app actually listens on (useful when it was started on port 0). */
export function listeningPort(app: INestApplication): number {
  const address = app.getHttpServer().address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Resolves after `ms`, without keeping the process alive for it: the most a close is waited for. */
function closeBound(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
}

/** The signals that stop an app: a supervisor's, Ctrl-C, and a terminal closed under `npm start`. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Runs an app's main. Bad configuration prints every problem and exits 1; a start failure,
 * an unhandled rejection or a fatal consumer error exits 1, so a supervisor restarts the process.
 * A fatal error once started first closes the app, within `FATAL_CLOSE_MS`: exiting at once, a
 * channel worker whose push consumer gave up killed its SMS and email consumers between the sends a
 * vendor had taken and their record, and those were sent again after their lease.
 *
 * SIGTERM, SIGINT or SIGHUP (a closed terminal) closes the app, once it has started, and exits 0
 * (1 when the start or the close failed); a second signal while it closes is ignored, and a fatal
 * error then gives the close `FATAL_CLOSE_MS` before the process exits 1. Nest's own shutdown hooks re-raised the signal once closed: every clean stop looked
 * killed (143), and a process that is PID 1 of a container, for which a signal left to its default
 * action is ignored, waited for the supervisor's SIGKILL. A fatal error and a signal together
 * closed the app twice.
 */
export function runMain<C extends { logLevel: string }>(
  app: string,
  loadConfig: () => C,
  start: (config: C, logger: AppLogger, onFatal: (error: Error) => void) => Promise<INestApplication>,
  { fatalCloseMs = FATAL_CLOSE_MS }: { fatalCloseMs?: number } = {},
): void {
  let config: C;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const logger = createLogger(app, config.logLevel);
  let started: INestApplication | undefined;
  let exiting: 'signal' | 'fatal' | undefined;
  const onFatal = (error: unknown): void => {
    if (exiting === 'fatal') return;
    const closing = exiting === 'signal';
    exiting = 'fatal';
    logger.fatal({ err: error }, `${app} cannot go on; closing and exiting so its supervisor restarts it`);
    const bound = closeBound(fatalCloseMs);
    // Closing for a signal already: that close may be waiting on what failed (a batch stuck for good,
    // which a consumer's stop waits for), so it gets the same time, and is not begun again.
    if (closing) return void bound.then(() => process.exit(1));
    const closed = started ? started.close().catch((closeError: unknown) => logger.error({ err: closeError }, `${app} did not close cleanly`)) : Promise.resolve();
    void Promise.race([closed, bound]).finally(() => process.exit(1));
  };
  // Begun once the handlers below are in place: until a handler is, a signal has its default action,
  // and one that came as the app said it had started (`npm start` waits for that line) killed it unclosed.
  const startup = Promise.resolve().then(() => start(config, logger, onFatal));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (exiting) return;
    exiting = 'signal';
    logger.info({ signal }, `${app} stopping`);
    // Still starting: closed once started, for one consumer may be sending while another joins its group.
    const closed = (started ? Promise.resolve(started) : startup).then(
      (running) => running.close().then(() => 0, (closeError: unknown) => (logger.error({ err: closeError }, `${app} did not close cleanly`), 1)),
      () => 1,
    );
    void closed.then((code) => process.exit(code));
  };
  process.on('unhandledRejection', onFatal);
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  startup.then((running) => void (started = running), onFatal);
}
