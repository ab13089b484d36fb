export * from './twilio-provider';
export * from './twilio-settings';
