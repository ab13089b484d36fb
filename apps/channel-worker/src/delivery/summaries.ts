import { IntlMessageFormat } from 'intl-messageformat';
import { localeTag, type DeliveryJob } from '@notify/contracts';
import { shortened } from '@notify/channels';

/** "3 new messages", per language; the English one when the locale's language is not here. */
const TITLES: Record<string, string> = {
  en: '{count, plural, one {# new message} other {# new messages}}',
  zh: '{count} 条新消息',
  'zh-Hant': '{count} 則新訊息',
  de: '{count, plural, one {# neue Nachricht} other {# neue Nachrichten}}',
  es: '{count, plural, one {# mensaje nuevo} other {# mensajes nuevos}}',
  fr: '{count, plural, one {# nouveau message} other {# nouveaux messages}}',
  ja: '新着メッセージ {count} 件',
};

/**
 * The summary's title in the locale's language. A locale stored before locales were checked at ingest
 * may not be a language tag at all (an Accept-Language header passed on, `en-US,en;q=0.9`, or `en-US `):
 * its language still picks the pattern, and the formatting falls back to that language alone, or to
 * English, rather than failing the batch.
 */
export function summaryTitle(locale: string, count: number): string {
  const language = locale.trim().toLowerCase().split(/[-_,;. ]/)[0]!;
  const tag = localeTag(locale);
  const pattern = TITLES[language === 'zh' && tag !== undefined && writesTraditional(tag) ? 'zh-Hant' : language];
  if (!pattern) return formatTitle(TITLES['en']!, 'en', count);
  return formatTitle(pattern, tag ?? language, count);
}

/** Chinese in Traditional characters, named (zh-Hant) or likely (zh-TW, zh-HK, zh-MO), as the routes' locale matching reads it. */
function writesTraditional(tag: string): boolean {
  try {
    return new Intl.Locale(tag).maximize().script === 'Hant';
  } catch {
    return false;
  }
}

function formatTitle(pattern: string, locale: string, count: number): string {
  return String(new IntlMessageFormat(pattern, locale).format({ count }));
}

export interface SummarizedSends {
  /** What to send: single jobs, and one summary job per endpoint of a resend batch. */
  sends: DeliveryJob[];
  /** A summary job's delivery id → every delivery it stands for (the outcome is recorded for each). */
  members: Map<string, DeliveryJob[]>;
}

/** The longest SMS text sent, in UTF-16 units: Twilio refuses a body over 1,600 characters for good. */
export const SMS_TEXT_UNITS = 1_500;

/**
 * The longest SMS text sent with a character outside the GSM alphabet: such a text goes as UCS-2, 67
 * characters a part, and carriers refuse long ones well below 1,600 (Twilio's 30019); ten parts, as
 * 1,500 GSM characters are.
 */
export const SMS_UCS2_TEXT_UNITS = 670;

/**
 * How much of a receiver's resend batch one send may carry, so that no vendor refuses it for its size
 * (a refusal is permanent: every message in it would be dead). A push summary names each message id
 * in its data (about 40 bytes each; APNs takes 4 KB in all, FCM 4 KB of data); an SMS digest is the
 * messages' text (`SMS_UCS2_TEXT_UNITS`, whatever its alphabet, or less when the vendor takes less);
 * an email digest is bounded only to stay a sane size.
 */
export const SUMMARY_LIMITS: Record<string, { limit: number; sizeOf: (job: DeliveryJob) => number }> = {
  push: { limit: 50, sizeOf: () => 1 },
  sms: { limit: SMS_UCS2_TEXT_UNITS, sizeOf: (job) => digestLine(job).length + 1 },
  email: { limit: 200_000, sizeOf: (job) => digestLine(job).length + 1 },
};

/**
 * A receiver's resend batch goes out as one send per endpoint: for push one notification that
 * summarises it ("3 new messages") with the message ids in its data so the app can sync; for SMS
 * and email one digest listing the messages. A batch larger than one send may carry
 * (`SUMMARY_LIMITS`) goes out as several, oldest messages first.
 */
export function summarize(singles: DeliveryJob[], batches: DeliveryJob[][], textLimit = Infinity): SummarizedSends {
  const sends = [...singles];
  const members = new Map<string, DeliveryJob[]>();
  for (const batch of batches) {
    const byEndpoint = new Map<string, DeliveryJob[]>();
    for (const job of batch) byEndpoint.set(job.endpoint, [...(byEndpoint.get(job.endpoint) ?? []), job]);
    for (const jobs of byEndpoint.values()) {
      for (const part of withinLimit(oldestFirst(jobs), textLimit)) {
        if (part.length === 1) {
          sends.push(part[0]!);
          continue;
        }
        const summary = summaryJob(part);
        sends.push(summary);
        members.set(summary.deliveryId, part);
      }
    }
  }
  return { sends, members };
}

function oldestFirst(jobs: DeliveryJob[]): DeliveryJob[] {
  return [...jobs].sort((a, b) => a.message.createdAt.localeCompare(b.message.createdAt) || (a.message.seq ?? 0) - (b.message.seq ?? 0));
}

/**
 * Consecutive runs of the jobs, each within its channel's limit and the sender's `textLimit` (a job
 * over the limit alone goes alone).
 */
function withinLimit(ordered: DeliveryJob[], textLimit: number): DeliveryJob[][] {
  const channel = SUMMARY_LIMITS[ordered[0]!.channel] ?? { limit: Infinity, sizeOf: () => 0 };
  const [limit, sizeOf] = [Math.min(channel.limit, textLimit), channel.sizeOf];
  const parts: DeliveryJob[][] = [];
  let part: DeliveryJob[] = [];
  let size = 0;
  for (const job of ordered) {
    const jobSize = sizeOf(job);
    if (part.length > 0 && size + jobSize > limit) {
      parts.push(part);
      part = [];
      size = 0;
    }
    part.push(job);
    size += jobSize;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** A message in a digest: its title and body; in an SMS joined by a colon, which keeps a text of the GSM alphabet in it. */
function digestLine(job: DeliveryJob): string {
  return [job.message.title, job.message.body].filter(Boolean).join(job.channel === 'sms' ? ': ' : ' — ');
}

/**
 * Characters of the latest message a push summary shows as its body: with 50 message ids in its data
 * it must stay within the vendors' 4 KB, and a refusal for size would make every message it stands
 * for dead (a long body in CJK takes 3 bytes a character).
 */
export const PUSH_SUMMARY_BODY_CHARS = 200;

function summaryJob(ordered: DeliveryJob[]): DeliveryJob {
  const latest = ordered[ordered.length - 1]!;
  const title = summaryTitle(latest.locale, ordered.length);
  // It stands for every message in it: it lives as long as the longest-lived (a push's time to live,
  // past which the vendor drops it) and goes with the most urgent one's priority. A push shows the
  // newest text that lives as long as it does: an earlier-expiring message's would be shown after
  // its expiry by a phone that comes online late.
  const expiresAt = latestExpiry(ordered);
  const livesAsLong = (job: DeliveryJob): boolean => (job.expiresAt === null ? expiresAt === null : expiresAt !== null && Date.parse(job.expiresAt) === Date.parse(expiresAt));
  const shown = ordered.findLast(livesAsLong) ?? latest;
  const body = latest.channel === 'push' ? shortened(shown.message.title || shown.message.body, PUSH_SUMMARY_BODY_CHARS) : ordered.map(digestLine).join('\n');
  return {
    ...latest,
    expiresAt,
    priority: ordered.reduce((most, job) => (PRIORITY_RANK[job.priority] > PRIORITY_RANK[most] ? job.priority : most), latest.priority),
    // No link: a summary stands for several messages, each with its own (the app opens them from its inbox).
    message: { id: latest.message.id, seq: latest.message.seq, type: latest.message.type, createdAt: latest.message.createdAt, title, body, data: { messageIds: ordered.map((job) => job.message.id) }, summaryOf: ordered.length },
  };
}

const PRIORITY_RANK: Record<DeliveryJob['priority'], number> = { low: 0, normal: 1, high: 2 };

/** The last expiry of the jobs; none when any of them has none. */
function latestExpiry(jobs: DeliveryJob[]): string | null {
  let latest = -Infinity;
  for (const job of jobs) {
    if (job.expiresAt === null) return null;
    latest = Math.max(latest, Date.parse(job.expiresAt));
  }
  return new Date(latest).toISOString();
}
