export * from './smtp-provider';
export * from './smtp-settings';
