export * from './apns-provider';
export * from './apns-settings';
