export * from './log-push-provider';
export * from './log-sms-provider';
export * from './log-email-provider';
