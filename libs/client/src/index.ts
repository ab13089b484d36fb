export * from './notify-client';
export * from './invalid-request';
export type { NotificationRequest, RecipientUpdate } from '@notify/contracts';
