export * from './ports';
export * from './factories';
