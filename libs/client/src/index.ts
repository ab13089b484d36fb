export * from './notify-client';
export * from './invalid-request';
export type { NotificationRequest, RecipientUpdate } from '@notify/contracts';
export * from './query/notify-query-client';
export * from './query/notify-query-error';
export * from './query/query-types';
export { NOTIFY_PROTO_DIR, NOTIFY_PROTO_FILES } from '@notify/contracts';
