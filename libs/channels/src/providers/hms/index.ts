export * from './hms-provider';
export * from './hms-settings';
