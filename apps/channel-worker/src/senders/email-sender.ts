import { createHash, createHmac } from 'node:crypto';
import { shortened, type EmailChannelProvider, type EmailMessage } from '@notify/channels';
import type { ClickLinks, DeliveryJob } from '@notify/contracts';
import type { WeightedLimit } from '../delivery/weighted-limit';
import type { ChannelSender, SendPlan } from './channel-sender';
import type { RecipientStore } from '@notify/persistence';
import { currentEndpoints, unreachable } from './current-endpoint';
import { attempt } from './send-attempt';

/** Email to the job's address while it is still its user's, with a text and an HTML body of the rendered message. */
export class EmailSender implements ChannelSender {
  readonly channel = 'email' as const;

  constructor(
    private readonly provider: EmailChannelProvider,
    private readonly recipients: Pick<RecipientStore, 'profiles'>,
    private readonly limit: WeightedLimit,
    /** The installation's secret that keys each mail's Message-ID (`messageKeyOf`); none: a plain digest. */
    private readonly messageKeySecret?: string,
    /** Signs the one-click unsubscribe of a mail sent to a topic (`unsubscribeHeaders`); none: mail goes without one. */
    private readonly links?: ClickLinks,
  ) {}

  async plan(jobs: DeliveryJob[]): Promise<SendPlan> {
    const isCurrent = await currentEndpoints(this.recipients, jobs, 'email');
    return {
      send: (claimed) =>
        Promise.all(claimed.map((job) => (isCurrent(job) ? this.limit.run(1, () => attempt(job, this.provider.id, () => this.provider.send(emailOf(job, this.messageKeySecret, this.links)))) : unreachable(job)))),
    };
  }
}

/**
 * Characters of a mail's subject. RFC 5322 allows 998 characters a header line, and nodemailer
 * folds a header only at white space and leaves an ASCII subject as it is: a title of a thousand
 * characters without a space (a link, a comma-separated list) made a line a strict relay refuses
 * for good. Cut, the subject ends in `…`, which makes nodemailer encode it in words it can fold.
 */
export const EMAIL_SUBJECT_CHARS = 900;

export function emailOf(job: DeliveryJob, messageKeySecret?: string, links?: ClickLinks): EmailMessage {
  const { title, body, id, type, url } = job.message;
  const subject = shortened(title.trim() === '' ? type : title, EMAIL_SUBJECT_CHARS);
  return {
    to: job.endpoint,
    subject,
    text: url ? `${body}\n\n${url}` : body,
    html: htmlOf(title, body, url),
    // Lets a bounce or a reply be matched to the message and delivery without reading the address.
    headers: { 'X-Notify-Message-Id': id, 'X-Notify-Delivery-Id': job.deliveryId, ...unsubscribeHeaders(job, links) },
    messageKey: messageKeyOf(job.deliveryId, subject, body, messageKeySecret),
  };
}

/**
 * RFC 8058 one-click unsubscribe, on a mail whose message went to a topic (a broadcast: mailbox
 * providers file bulk mail without it as spam): `List-Unsubscribe` names the gateway's `POST /u/{token}`
 * for the user and the topic (contract §6), and `List-Unsubscribe-Post` says a POST there is all it takes.
 * None on mail to one user or address (a code, a receipt, a digest), nor without tracked links'
 * secret and address, nor at an http address: the RFC asks for HTTPS.
 */
function unsubscribeHeaders(job: DeliveryJob, links: ClickLinks | undefined): Record<string, string> {
  const { topic } = job.message;
  if (!links || topic === undefined || job.userId === null) return {};
  const link = links.unsubscribeLink(job.userId, topic);
  return link.startsWith('https://') ? { 'List-Unsubscribe': `<${link}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {};
}

/**
 * The same for every attempt of one mail: a delivery's own mail, or a digest of the same messages
 * (whose text lists them), and different for a digest of other messages under the same delivery.
 * Bounces name their mail by it, so it is keyed with the installation's secret: the delivery id and
 * the rendered text are known beyond the mail's recipient (the query API, notify.events), and with
 * a plain digest of them anyone could mail the return path a bounce that ended another's delivery.
 */
function messageKeyOf(deliveryId: string, subject: string, text: string, secret?: string): string {
  const digest = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  return digest.update(JSON.stringify([deliveryId, subject, text])).digest('hex').slice(0, 32);
}

/** The rendered text as HTML: escaped, paragraphs and line breaks kept. */
function htmlOf(title: string, body: string, url: string | undefined): string {
  const paragraphs = body
    .split(/\n{2,}/)
    .filter((paragraph) => paragraph.trim() !== '')
    .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\n/g, '<br>')}</p>`);
  const heading = title.trim() === '' ? '' : `<h1>${escapeHtml(title)}</h1>`;
  const link = url ? `<p><a href="${escapeHtml(url)}">${escapeHtml(url)}</a></p>` : '';
  return `<!doctype html><html><body>${heading}${paragraphs.join('')}${link}</body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
