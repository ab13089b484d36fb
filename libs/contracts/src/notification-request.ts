import { z } from 'zod';
import { ChannelSchema } from './channels';

/** The serialized request may be at most this many bytes (contract section 1). */
export const MAX_REQUEST_BYTES = 64 * 1024;
export const MAX_USER_IDS = 1000;

export const RequestIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'only letters, digits and . _ : - are allowed');

export const UserIdSchema = z.string().min(1).max(128);

/**
 * An address as HTML forms take one, with a dot in its domain: any of RFC 5322's characters before
 * the @ (`tom&jerry@`, `o!reilly@`) and internationalized domains in their ASCII form
 * (`example.xn--p1ai`), which zod's default pattern refused.
 */
const EMAIL_ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** An email address, at most 254 characters: the longest an SMTP path can carry (RFC 5321). */
export const EmailSchema = z.email({ pattern: EMAIL_ADDRESS }).max(254);

/**
 * A copy of a JSON object without the listed optional fields that are null: many JSON writers
 * (Jackson's and .NET's defaults, Go without `omitempty`) write an unset field as null, which the
 * contract's "required: no" means as absent. `nested` does the same one object down (`content`).
 */
export function nullsAsAbsent(json: unknown, optional: readonly string[], nested: Readonly<Record<string, readonly string[]>> = {}): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const copy: Record<string, unknown> = { ...(json as Record<string, unknown>) };
  for (const field of optional) if (copy[field] === null) delete copy[field];
  for (const [field, fields] of Object.entries(nested)) if (field in copy) copy[field] = nullsAsAbsent(copy[field], fields);
  return copy;
}

/**
 * The instants PostgreSQL reads back from ISO 8601 as the platform writes it: years 0001 to 9999 in
 * UTC. "0000-01-01T00:00:00Z" or "9999-12-31T23:00:00-05:00" (year 10000 in UTC) would pass the
 * format and then fail every insert of their batch.
 */
export const EARLIEST_STORABLE_MS = Date.parse('0001-01-01T00:00:00.000Z');
export const LATEST_STORABLE_MS = Date.parse('9999-12-31T23:59:59.999Z');
/**
 * ISO 8601 in its extended form with an offset, to the minute or finer: `2026-12-01T09:00Z` is what
 * Java's `OffsetDateTime.toString()` writes for a whole minute, and RFC 3339's seconds are not required.
 * The date part is zod's (it knows February 29th).
 */
const ISO_DATE_TIME = new RegExp(
  `^${z.regexes.date.source.replace(/^\^|\$$/g, '')}T(?:[01]\\d|2[0-3]):[0-5]\\d(?::[0-5]\\d(?:\\.\\d+)?)?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)$`,
);
const isoDateTime = z.string().regex(ISO_DATE_TIME, { message: 'an ISO 8601 date and time with an offset (Z or ±hh:mm)', abort: true }).refine((text) => {
  const ms = Date.parse(text);
  return ms >= EARLIEST_STORABLE_MS && ms <= LATEST_STORABLE_MS;
}, 'must fall between 0001-01-01 and 9999-12-31 UTC');

/**
 * The canonical BCP 47 tag a locale means (`zh-CN`, `id-ID`), or undefined when it means none. Also
 * read: Java's `Locale.toString()` (`zh_CN`, `zh_CN_#Hans` → `zh-Hans-CN`, `zh__#Hant` → `zh-Hant`,
 * `en_US_#u-mu-celsius` → `en-US-u-mu-celsius`),
 * POSIX names (`en_US.UTF-8`), and the old codes Java and Android still write (`in` → `id`, `iw` →
 * `he`), so that each meets the template written for its language.
 */
export function localeTag(text: string): string | undefined {
  const posix = text.replace(/[.@].*$/, '');
  let tag = posix;
  if (posix.includes('_')) {
    // Java: language_REGION_variant, then `_#` and the script and extensions (`zh_CN_#Hans_u-fw-mon`,
    // `en_US_#u-mu-celsius`, Android's regional preferences); the extensions go last in a tag.
    const [base = '', hashed = ''] = posix.split('_#');
    const [first = '', ...rest] = hashed.split('_');
    const [script, extensions] = /^[A-Za-z]{4}$/.test(first) ? [first, rest] : ['', [first, ...rest]];
    const [language = '', region = '', ...variants] = base.split('_');
    tag = [language, script, region, ...variants, ...extensions].filter((part) => part !== '').join('-');
  }
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

const NOT_A_TAG = 'a BCP 47 language tag, such as en or zh-CN';
/** The longest locale stored (`varchar(35)`). */
export const MAX_LOCALE_LENGTH = 35;

/**
 * A locale: a BCP 47 language tag, stored in its canonical form (`localeTag`, which also reads Java's
 * and POSIX's forms). Anything that is no language tag is refused: no template would ever match it,
 * and its user would get the default language without a word.
 */
export const LocaleSchema = z
  .string()
  // The shape, which the JSON Schema carries for producers; Intl then checks the subtags.
  .regex(/^[A-Za-z]{2,8}([-_#.@][A-Za-z0-9_#.@-]*)?$/, { message: NOT_A_TAG, abort: true })
  .max(64)
  .overwrite((text) => storedLocale(text) ?? text)
  .refine((text) => storedLocale(text) === text, NOT_A_TAG);

/**
 * The locale as stored: its canonical tag, without its extensions when they make it longer than
 * the column holds (`en_US_#u-ca-gregory-fw-mon-mu-fahrenhe`, Android's regional preferences, is 37
 * characters): templates are picked by language, script and region alone, and a device registered
 * with such a locale was dead-lettered whole, its user left with no push.
 */
function storedLocale(text: string): string | undefined {
  const tag = localeTag(text);
  if (tag === undefined || tag.length <= MAX_LOCALE_LENGTH) return tag;
  const base = new Intl.Locale(tag).baseName;
  return base.length <= MAX_LOCALE_LENGTH ? base : undefined;
}

export const RecipientSelectorSchema = z.union([
  z.strictObject({ userId: UserIdSchema }),
  z.strictObject({ userIds: z.array(UserIdSchema).min(1).max(MAX_USER_IDS) }),
  z.strictObject({ topic: z.string().min(1).max(128) }),
  z.strictObject({ phone: z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'E.164 phone number expected') }),
  z.strictObject({ email: EmailSchema }),
], { error: `exactly one of userId, userIds (1 to ${MAX_USER_IDS}), topic, phone or email` });
export type RecipientSelector = z.infer<typeof RecipientSelectorSchema>;

/** Where a notification leads (an addition to §1): an http or https address, sent as a tracked link (§6). */
const LinkSchema = z
  .url({ protocol: /^https?$/, error: 'an http or https URL' })
  // As a pattern too: the JSON Schema of z.url() alone takes any scheme. Spelled out in both cases, as
  // the JSON Schema's pattern carries no flags: `HTTPS://` is a link zod takes.
  .regex(/^[Hh][Tt][Tt][Pp][Ss]?:\/\//, 'an http or https URL')
  .max(2048);

/**
 * The link a text stands for, as a request's `content.url` is read (trimmed of any Unicode space,
 * which z.url() does before its checks), or undefined when it is no link a message may lead to.
 * Only the result may be parsed again: a link led by a no-break space passes the check as written,
 * and `new URL` refuses it.
 */
export function linkOf(text: string): string | undefined {
  return LinkSchema.safeParse(text).data;
}

export const PrioritySchema = z.enum(['high', 'normal', 'low']);
export type Priority = z.infer<typeof PrioritySchema>;

/** A request on `notify.requests` (contract section 1). */
export const NotificationRequestSchema = z.object({
  id: RequestIdSchema,
  type: z.string().min(1).max(128),
  to: RecipientSelectorSchema,
  data: z.record(z.string(), z.unknown()).optional(),
  content: z
    .object({ title: z.string().max(1024).optional(), body: z.string().max(16384).optional(), url: LinkSchema.optional() })
    .optional(),
  channels: z.array(ChannelSchema).min(1).optional(),
  locale: LocaleSchema.optional(),
  sendAt: isoDateTime.optional(),
  expiresAt: isoDateTime.optional(),
  priority: PrioritySchema.optional(),
}).superRefine((request, context) => {
  // A message that expires before it may be sent would end `expired` without a single send.
  if (request.sendAt === undefined || request.expiresAt === undefined) return;
  if (Date.parse(request.expiresAt) <= Date.parse(request.sendAt)) context.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be after sendAt' });
});
export type NotificationRequest = z.infer<typeof NotificationRequestSchema>;

/**
 * Whether a value is the zero time of Go and .NET, 0001-01-01T00:00:00 UTC in any offset: what a Go
 * `time.Time` (which `omitempty` does not leave out) and a default `DateTimeOffset` write for a time
 * never set. As an `expiresAt` it expired every delivery without a word.
 */
function isZeroTime(value: unknown): boolean {
  return typeof value === 'string' && ISO_DATE_TIME.test(value) && Date.parse(value) === EARLIEST_STORABLE_MS;
}

/**
 * A request's JSON with its null optional fields left out (`nullsAsAbsent`), and a `sendAt` or
 * `expiresAt` that is the zero time (`isZeroTime`) too, as the platform reads it.
 */
export function requestNullsAsAbsent(json: unknown): unknown {
  const read = nullsAsAbsent(json, ['data', 'content', 'channels', 'locale', 'sendAt', 'expiresAt', 'priority'], {
    content: ['title', 'body', 'url'],
    // One class with five nullable fields, as a Java or .NET producer models `to`: the one set is the selector.
    to: ['userId', 'userIds', 'topic', 'phone', 'email'],
  });
  if (typeof read !== 'object' || read === null || Array.isArray(read)) return read;
  // `read` is a copy already (`nullsAsAbsent`): the producer's object stays as it was.
  const times = read as { sendAt?: unknown; expiresAt?: unknown };
  if (isZeroTime(times.sendAt)) delete times.sendAt;
  if (isZeroTime(times.expiresAt)) delete times.expiresAt;
  return read;
}
