export * from './xiaomi-provider';
export * from './xiaomi-settings';
