import { z } from 'zod';
import { PushProviderSchema } from './channels';
import { EmailSchema, LocaleSchema, nullsAsAbsent, UserIdSchema } from './notification-request';

const deviceId = z.string().min(1).max(128);

/**
 * An IANA time zone database name as written there: capitalised parts (`Asia/Shanghai`, `UTC`,
 * `Etc/GMT-8`, `EST5EDT`, `PRC`). The runtime's time zone data also takes other cases
 * (`asia/shanghai`) and names only it and Java know: `SystemV/` zones and Java's three-letter IDs
 * (`CST` read as Chicago, on a platform many of whose users mean China), which other languages'
 * libraries refuse.
 */
const TIME_ZONE_NAME = /^[A-Z][A-Za-z0-9_+-]*(?:\/[A-Z][A-Za-z0-9_+-]*)*$/;
const NOT_IANA = new Set(['ACT', 'AET', 'AGT', 'ART', 'AST', 'BET', 'BST', 'CAT', 'CNT', 'CST', 'CTT', 'EAT', 'ECT', 'IET', 'IST', 'JST', 'MIT', 'NET', 'NST', 'PLT', 'PNT', 'PRT', 'PST', 'SST', 'VST']);

/** Whether the name is an IANA one the runtime's time zone data knows. */
export function isTimeZone(name: string): boolean {
  if (!TIME_ZONE_NAME.test(name) || NOT_IANA.has(name) || name.startsWith('SystemV/')) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    return false;
  }
  return true;
}
const TimeZoneSchema = z
  .string()
  // One problem per value: a name too long is not also said to be no IANA name.
  .min(1, { abort: true })
  .max(64, { abort: true })
  // The shape as a pattern too, which the JSON Schema carries for producers; the runtime's list then checks the name.
  .regex(TIME_ZONE_NAME, { message: 'must be an IANA time zone, e.g. Asia/Shanghai', abort: true })
  .pipe(z.string().refine(isTimeZone, 'must be an IANA time zone, e.g. Asia/Shanghai'));
const topic = z.string().min(1).max(128);

/** The contact fields an upsert may clear (an addition to contract §2): a user who removed a phone number gets no SMS at it. */
export const CLEARABLE_FIELDS = ['phone', 'email', 'locale', 'timezone'] as const;
export type ClearableField = (typeof CLEARABLE_FIELDS)[number];

/** A record on `notify.recipients` (contract section 2). */
export const RecipientUpdateSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('upsert'),
    userId: UserIdSchema,
    phone: z.string().regex(/^\+[1-9][0-9]{6,14}$/).optional(),
    email: EmailSchema.optional(),
    locale: LocaleSchema.optional(),
    timezone: TimeZoneSchema.optional(),
    clear: z
      .array(z.enum(CLEARABLE_FIELDS))
      .max(CLEARABLE_FIELDS.length)
      .optional()
      .refine((fields) => fields === undefined || new Set(fields).size === fields.length, 'lists a field twice')
      .meta({ uniqueItems: true }),
  }).superRefine((upsert, context) => {
    for (const field of upsert.clear ?? []) {
      if (upsert[field] !== undefined) context.addIssue({ code: 'custom', path: ['clear'], message: `both sets and clears ${field}` });
    }
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
  /**
   * Forgets the user's contact points (an addition to contract §2): profile, devices and topic
   * subscriptions, for a user erased or gone. Their inbox, messages and deliveries stay until retention.
   */
  z.object({ op: z.literal('user-removed'), userId: UserIdSchema }),
]);
export type RecipientUpdate = z.infer<typeof RecipientUpdateSchema>;

/** An update's JSON with its null optional fields left out (`nullsAsAbsent`), as the platform reads it. */
export function recipientUpdateNullsAsAbsent(json: unknown): unknown {
  return nullsAsAbsent(json, ['phone', 'email', 'locale', 'timezone', 'clear']);
}
