export * from './fcm-provider';
export * from './fcm-settings';
