import { z } from 'zod';
import { PushProviderSchema } from './channels';
import { EmailSchema, LocaleSchema, nullsAsAbsent, UserIdSchema } from './notification-request';

const deviceId = z.string().min(1).max(128);

/**
 * An IANA time zone database name as written there: `UTC`, or an area and a location, each part
 * capitalised (`Asia/Shanghai`, `America/Argentina/Buenos_Aires`, `Etc/GMT-8`, the old `US/Pacific`).
 * The runtime's time zone data also takes abbreviations (`CST`, read as Chicago on a platform many of
 * whose users mean China), other cases (`asia/shanghai`) and zones IANA has removed (`SystemV/PST8`),
 * which other languages' libraries refuse.
 */
const TIME_ZONE_NAME = /^(?:UTC|(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc|US|Canada|Brazil|Chile|Mexico)(?:\/[A-Z][A-Za-z0-9_+-]*)+)$/;

const knownTimeZones = new Set<string>();
/** Whether the name is an IANA one the runtime's time zone data knows. */
function isTimeZone(name: string): boolean {
  if (knownTimeZones.has(name)) return true;
  if (!TIME_ZONE_NAME.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    return false;
  }
  if (knownTimeZones.size < 10_000) knownTimeZones.add(name);
  return true;
}
const TimeZoneSchema = z
  .string()
  .min(1)
  .max(64)
  .pipe(z.string().refine(isTimeZone, 'must be an IANA time zone, e.g. Asia/Shanghai'));
const topic = z.string().min(1).max(128);

/** A record on `notify.recipients` (contract section 2). */
export const RecipientUpdateSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('upsert'),
    userId: UserIdSchema,
    phone: z.string().regex(/^\+[1-9][0-9]{6,14}$/).optional(),
    email: EmailSchema.optional(),
    locale: LocaleSchema.optional(),
    timezone: TimeZoneSchema.optional(),
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
