export * from './aliyun-provider';
export * from './aliyun-settings';
