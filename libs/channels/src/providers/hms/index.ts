export * from './hms-provider';
export * from './hms-settings';
export * from './hms-callback-id';
