export * from './logger';
export * from './health';
export * from './metrics';
export * from './observability.module';
export * from './app-process';
export * from './free-port';
