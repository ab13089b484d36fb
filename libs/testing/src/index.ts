export { freePort, freePorts } from '@notify/observability';
export * from './test-database';
export * from './kafka-broker';
export * from './eventually';
export * from './providers';
export * from './json-records';
export * from './kept-errors';
export * from './topic-records';
