export * from './ports/channel-provider';
