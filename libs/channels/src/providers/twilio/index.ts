export * from './twilio-provider';
export * from './twilio-settings';
export * from './twilio-signature';
