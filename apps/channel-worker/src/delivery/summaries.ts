import { IntlMessageFormat } from 'intl-messageformat';
import type { DeliveryJob } from '@notify/contracts';

/** "3 new messages", per language; the English one when the locale's language is not here. */
const TITLES: Record<string, string> = {
  en: '{count, plural, one {# new message} other {# new messages}}',
  zh: '{count} 条新消息',
  de: '{count, plural, one {# neue Nachricht} other {# neue Nachrichten}}',
  es: '{count, plural, one {# mensaje nuevo} other {# mensajes nuevos}}',
  fr: '{count, plural, one {# nouveau message} other {# nouveaux messages}}',
  ja: '新着メッセージ {count} 件',
};

export function summaryTitle(locale: string, count: number): string {
  const language = locale.toLowerCase().split('-')[0]!;
  const pattern = TITLES[language] ?? TITLES['en']!;
  return String(new IntlMessageFormat(pattern, TITLES[language] ? locale : 'en').format({ count }));
}

export interface SummarizedSends {
  /** What to send: single jobs, and one summary job per endpoint of a resend batch. */
  sends: DeliveryJob[];
  /** A summary job's delivery id → every delivery it stands for (the outcome is recorded for each). */
  members: Map<string, DeliveryJob[]>;
}

/**
 * A receiver's resend batch goes out as one send per endpoint: for push one notification that
 * summarises it ("3 new messages") with the message ids in its data so the app can sync; for SMS
 * and email one digest listing the messages.
 */
export function summarize(singles: DeliveryJob[], batches: DeliveryJob[][]): SummarizedSends {
  const sends = [...singles];
  const members = new Map<string, DeliveryJob[]>();
  for (const batch of batches) {
    const byEndpoint = new Map<string, DeliveryJob[]>();
    for (const job of batch) byEndpoint.set(job.endpoint, [...(byEndpoint.get(job.endpoint) ?? []), job]);
    for (const jobs of byEndpoint.values()) {
      if (jobs.length === 1) {
        sends.push(jobs[0]!);
        continue;
      }
      const summary = summaryJob(jobs);
      sends.push(summary);
      members.set(summary.deliveryId, jobs);
    }
  }
  return { sends, members };
}

function summaryJob(jobs: DeliveryJob[]): DeliveryJob {
  const ordered = [...jobs].sort((a, b) => a.message.createdAt.localeCompare(b.message.createdAt) || (a.message.seq ?? 0) - (b.message.seq ?? 0));
  const latest = ordered[ordered.length - 1]!;
  const title = summaryTitle(latest.locale, jobs.length);
  const body =
    latest.channel === 'push'
      ? latest.message.title || latest.message.body
      : ordered.map((job) => [job.message.title, job.message.body].filter(Boolean).join(' — ')).join('\n');
  return {
    ...latest,
    message: { ...latest.message, title, body, data: { messageIds: ordered.map((job) => job.message.id) } },
  };
}
