import { z } from 'zod';

export const CHANNELS = ['websocket', 'push', 'sms', 'email'] as const;
export const ChannelSchema = z.enum(CHANNELS);
export type Channel = z.infer<typeof ChannelSchema>;

export const PUSH_PROVIDERS = ['apns', 'fcm', 'hms', 'xiaomi'] as const;
export const PushProviderSchema = z.enum(PUSH_PROVIDERS);
export type PushProvider = z.infer<typeof PushProviderSchema>;
