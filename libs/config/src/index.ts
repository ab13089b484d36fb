export * from './setting';
export * from './types';
export * from './shared';
export * from './apps/message-center';
export * from './apps/realtime-gateway';
export * from './apps/channel-worker';
export * from './apps/scheduler';
export * from './apps/query-api';
