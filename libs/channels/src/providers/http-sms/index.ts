export * from './http-sms-provider';
export * from './http-sms-settings';
