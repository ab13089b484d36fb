/** Every app `npm start` runs, with the HTTP port its health check answers on. */
export interface PlatformApp {
  name: string;
  main: string;
  portVariable: string;
  defaultPort: number;
  /** Extra addresses to print, besides HTTP. */
  extra?: (env: NodeJS.ProcessEnv) => string;
  /** Flags for node itself, before the app's main (docker-compose.yml runs the app with the same). */
  nodeFlags?: string[];
  /** How long its shutdown may take before it is killed: its `stop_grace_period` in docker-compose.yml. */
  stopWaitMs: number;
}

/**
 * The gateway's shutdown waits for acknowledgements still out, then their writes and events. The
 * message center, scheduler and query API get as long.
 */
const STOP_WAIT_MS = 40_000;

/**
 * The query API answers small calls at a steady rate, so its garbage collector is tuned for short
 * pauses over a small heap: larger young generations (most of a call's garbage dies there instead of
 * being promoted) and an old generation allowed to double before a full collection. Measured by
 * `npm run bench:query` (docs/benchmarks.md): full collections went from every ~2 s to about one a
 * minute, and GetMessage's p99 at 500 calls/s from 15–28 ms to 5–9 ms.
 */
export const QUERY_API_NODE_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=64', '--heap-growing-percent=100'];

export const PLATFORM_APPS: PlatformApp[] = [
  { name: 'message-center', main: 'apps/message-center/src/main.ts', portVariable: 'MESSAGE_CENTER_PORT', defaultPort: 3002, stopWaitMs: STOP_WAIT_MS },
  {
    name: 'realtime-gateway',
    main: 'apps/realtime-gateway/src/main.ts',
    portVariable: 'GATEWAY_PORT',
    defaultPort: 3000,
    extra: (env) => `Socket.IO ws://127.0.0.1:${env.GATEWAY_PORT ?? 3000}/notifications`,
    stopWaitMs: STOP_WAIT_MS,
  },
  // It finishes the chunk of sends in hand: up to 100 mails or texts over the provider's connections.
  { name: 'channel-worker', main: 'apps/channel-worker/src/main.ts', portVariable: 'CHANNEL_WORKER_PORT', defaultPort: 3003, stopWaitMs: 60_000 },
  { name: 'scheduler', main: 'apps/scheduler/src/main.ts', portVariable: 'SCHEDULER_PORT', defaultPort: 3004, stopWaitMs: STOP_WAIT_MS },
  {
    name: 'query-api',
    main: 'apps/query-api/src/main.ts',
    portVariable: 'QUERY_API_HTTP_PORT',
    defaultPort: 3001,
    extra: (env) => `gRPC 127.0.0.1:${env.QUERY_API_GRPC_PORT ?? 50051}`,
    nodeFlags: QUERY_API_NODE_FLAGS,
    stopWaitMs: STOP_WAIT_MS,
  },
];

export function httpPortOf(app: PlatformApp, env: NodeJS.ProcessEnv): number {
  return Number(env[app.portVariable] ?? app.defaultPort);
}

/** The command that runs an app, from the repository's root. */
export function commandOf(app: PlatformApp): string[] {
  return ['node', ...(app.nodeFlags ?? []), '-r', '@swc-node/register', app.main];
}
