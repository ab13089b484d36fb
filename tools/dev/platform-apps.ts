/** Every app `npm start` runs, with the HTTP port its health check answers on. */
export interface PlatformApp {
  name: string;
  main: string;
  portVariable: string;
  defaultPort: number;
  /** Extra addresses to print, besides HTTP. */
  extra?: (env: NodeJS.ProcessEnv) => string;
}

export const PLATFORM_APPS: PlatformApp[] = [
  { name: 'message-center', main: 'apps/message-center/src/main.ts', portVariable: 'MESSAGE_CENTER_PORT', defaultPort: 3002 },
  {
    name: 'realtime-gateway',
    main: 'apps/realtime-gateway/src/main.ts',
    portVariable: 'GATEWAY_PORT',
    defaultPort: 3000,
    extra: (env) => `Socket.IO ws://127.0.0.1:${env.GATEWAY_PORT ?? 3000}/notifications`,
  },
  { name: 'channel-worker', main: 'apps/channel-worker/src/main.ts', portVariable: 'CHANNEL_WORKER_PORT', defaultPort: 3003 },
  { name: 'scheduler', main: 'apps/scheduler/src/main.ts', portVariable: 'SCHEDULER_PORT', defaultPort: 3004 },
  {
    name: 'query-api',
    main: 'apps/query-api/src/main.ts',
    portVariable: 'QUERY_API_HTTP_PORT',
    defaultPort: 3001,
    extra: (env) => `gRPC 127.0.0.1:${env.QUERY_API_GRPC_PORT ?? 50051}`,
  },
];

export function httpPortOf(app: PlatformApp, env: NodeJS.ProcessEnv): number {
  return Number(env[app.portVariable] ?? app.defaultPort);
}
