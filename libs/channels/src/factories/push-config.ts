import { z } from 'zod';
import { ProviderLimitsSchema } from './limits-config';
import { XIAOMI_MAX_CALLBACK_BYTES } from '../providers/xiaomi/xiaomi-form';
import { HMS_CATEGORIES } from '../providers/hms/hms-message';

const MINUTE = 60_000;

export const LogDriverSchema = z.object({ driver: z.literal('log') });

export const ApnsDriverSchema = z.object({
  driver: z.literal('apns'),
  baseUrl: z.url().default('https://api.push.apple.com'),
  teamId: z.string().min(1),
  keyId: z.string().min(1),
  topic: z.string().min(1),
  signingKey: z.string().min(1).optional(),
  signingKeyFile: z.string().min(1).optional(),
  // Apple: no older than an hour, not renewed more often than every 20 minutes.
  tokenRefreshAfterMs: z.number().int().min(20 * MINUTE).max(55 * MINUTE).default(50 * MINUTE),
  limits: ProviderLimitsSchema,
});

export const FcmDriverSchema = z.object({
  driver: z.literal('fcm'),
  baseUrl: z.url().default('https://fcm.googleapis.com'),
  serviceAccountJson: z.string().min(1).optional(),
  serviceAccountFile: z.string().min(1).optional(),
  tokenUrl: z.url().optional(),
  limits: ProviderLimitsSchema,
});

export const HmsDriverSchema = z.object({
  driver: z.literal('hms'),
  baseUrl: z.url().default('https://push-api.cloud.huawei.com'),
  tokenUrl: z.url().default('https://oauth-login.cloud.huawei.com/oauth2/v3/token'),
  appId: z.string().min(1),
  appSecret: z.string().min(1).optional(),
  appSecretFile: z.string().min(1).optional(),
  /** AppGallery Connect's receipt callback user name and key: with them, only receipts Push Kit signed are taken. */
  receiptUserName: z.string().min(1).optional(),
  receiptKey: z.string().min(1).optional(),
  receiptKeyFile: z.string().min(1).optional(),
  /** The self-classification category Huawei granted the app (`android.category` of every push). */
  category: z.string().pipe(z.enum(HMS_CATEGORIES)).optional(),
  limits: ProviderLimitsSchema,
});

export const XiaomiDriverSchema = z.object({
  driver: z.literal('xiaomi'),
  baseUrl: z.url().default('https://api.xmpush.xiaomi.com'),
  packageName: z.string().min(1),
  channelId: z.string().min(1).optional(),
  receiptUrl: z
    .url()
    .refine((url) => Buffer.byteLength(url) <= XIAOMI_MAX_CALLBACK_BYTES, `at most ${XIAOMI_MAX_CALLBACK_BYTES} bytes (Mi Push's limit)`)
    .optional(),
  appSecret: z.string().min(1).optional(),
  appSecretFile: z.string().min(1).optional(),
  limits: ProviderLimitsSchema,
});

/** One push provider, picked by `driver`; `log` needs nothing else. */
export const PushDriverSchema = z.discriminatedUnion('driver', [LogDriverSchema, ApnsDriverSchema, FcmDriverSchema, HmsDriverSchema, XiaomiDriverSchema]);
export type PushDriverConfig = z.input<typeof PushDriverSchema>;

/** A driver per device vendor of the contract (`apns`, `fcm`, `hms`, `xiaomi`); each missing one is `log`. */
export const PushChannelSchema = z.object({
  apns: PushDriverSchema.optional(),
  fcm: PushDriverSchema.optional(),
  hms: PushDriverSchema.optional(),
  xiaomi: PushDriverSchema.optional(),
});
export type PushChannelConfig = z.input<typeof PushChannelSchema>;
