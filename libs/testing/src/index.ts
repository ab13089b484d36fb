export * from './free-port';
export * from './test-database';
export * from './kafka-broker';
export * from './eventually';
export * from './providers';
