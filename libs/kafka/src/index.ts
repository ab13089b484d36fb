export * from './client';
export * from './topics';
export * from './batch-consumer';
export * from './dead-letter';
export * from './kafka.module';
export * from './outcome-events';
export * from './fan-out';
export * from './send-in-chunks';
