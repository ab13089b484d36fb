import { z } from 'zod';
import { PushProviderSchema } from './channels';
import { EmailSchema, LocaleSchema, nullsAsAbsent, UserIdSchema } from './notification-request';

const deviceId = z.string().min(1).max(128);
const topic = z.string().min(1).max(128);

/** A record on `notify.recipients` (contract section 2). */
export const RecipientUpdateSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('upsert'),
    userId: UserIdSchema,
    phone: z.string().regex(/^\+[1-9][0-9]{6,14}$/).optional(),
    email: EmailSchema.optional(),
    locale: LocaleSchema.optional(),
    timezone: z.string().min(1).max(64).optional(),
  }),
  z.object({
    op: z.literal('device'),
    userId: UserIdSchema,
    deviceId,
    provider: PushProviderSchema,
    token: z.string().min(1).max(4096),
    locale: LocaleSchema.optional(),
  }),
  z.object({ op: z.literal('device-removed'), userId: UserIdSchema, deviceId }),
  z.object({ op: z.literal('subscribe'), userId: UserIdSchema, topic }),
  z.object({ op: z.literal('unsubscribe'), userId: UserIdSchema, topic }),
]);
export type RecipientUpdate = z.infer<typeof RecipientUpdateSchema>;

/** An update's JSON with its null optional fields left out (`nullsAsAbsent`), as the platform reads it. */
export function recipientUpdateNullsAsAbsent(json: unknown): unknown {
  return nullsAsAbsent(json, ['phone', 'email', 'locale', 'timezone']);
}
