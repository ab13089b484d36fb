import { createEmailProvider, type EmailChannelProvider } from '@notify/channels';
import { ClickLinks, type DeliveryJob } from '@notify/contracts';
import { startFakeSmtp, type FakeSmtp } from '@notify/testing';
import MailComposer from 'nodemailer/lib/mail-composer';
import { deliveryJob } from '../delivery/jobs.spec-helper';
import { summarize } from '../delivery/summaries';
import { WeightedLimit } from '../delivery/weighted-limit';
import { EMAIL_SUBJECT_CHARS, EmailSender, emailOf } from './email-sender';

const job = (n: number): DeliveryJob => deliveryJob(n, { channel: 'email', endpoint: 'u-1@example.com', attempt: 1 });

describe('emailOf', () => {
  it('ends the text and the HTML with the message’s link, escaped in the HTML', () => {
    const linked = job(1);
    const mail = emailOf({ ...linked, message: { ...linked.message, url: 'https://notify.example/c/x.y?a=1&b=2' } });
    expect(mail.text.endsWith('\n\nhttps://notify.example/c/x.y?a=1&b=2')).toBe(true);
    expect(mail.html).toContain('<a href="https://notify.example/c/x.y?a=1&#38;b=2">');
    expect(emailOf(job(1)).html).not.toContain('<a ');
  });

  it('cuts a subject longer than a mail header line may be, so that no relay refuses the mail for it', async () => {
    // A title without a space nodemailer could fold at: a link, a comma-separated list.
    const long = job(1);
    const mail = emailOf({ ...long, message: { ...long.message, title: `https://example.com/${'a'.repeat(980)}` } });
    expect(EMAIL_SUBJECT_CHARS).toBeLessThanOrEqual(900);
    expect([...mail.subject].length).toBeLessThanOrEqual(EMAIL_SUBJECT_CHARS);
    expect(mail.subject.endsWith('…')).toBe(true);
    const built = await new MailComposer({ from: 'notify@example.com', to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, headers: mail.headers }).compile().build();
    const lines = built.toString('utf8').split('\r\n');
    expect(lines.filter((line) => line.startsWith('Subject:'))).toHaveLength(1);
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(998);
  });

  it('keys a delivery’s mail the same on every attempt, and another delivery’s mail differently', () => {
    const first = emailOf(job(1));
    expect(first.messageKey).toMatch(/^[0-9a-f]{32}$/);
    expect(emailOf({ ...job(1), attempt: 3 }).messageKey).toBe(first.messageKey);
    expect(emailOf(job(2)).messageKey).not.toBe(first.messageKey);
  });

  it('keys the mail with the installation’s secret, so that no one without it can name the mail in a forged bounce', () => {
    const keyed = emailOf(job(1), 'receipts-secret-of-this-installation');
    expect(keyed.messageKey).toMatch(/^[0-9a-f]{32}$/);
    expect(keyed.messageKey).not.toBe(emailOf(job(1)).messageKey);
    expect(emailOf({ ...job(1), attempt: 2 }, 'receipts-secret-of-this-installation').messageKey).toBe(keyed.messageKey);
    expect(emailOf(job(1), 'another-installation').messageKey).not.toBe(keyed.messageKey);
  });

  it('keys a digest by the messages it lists: the same digest again alike, one of more messages under the same delivery not', () => {
    const digest = (jobs: DeliveryJob[]) => emailOf(summarize([], [jobs]).sends[0]!);
    const two = digest([job(1), job(3)]);
    expect(digest([job(3), job(1)]).messageKey).toBe(two.messageKey);
    expect(digest([job(1), job(2), job(3)]).messageKey).not.toBe(two.messageKey);
  });
});

describe('EmailSender over SMTP: one-click unsubscribe (RFC 8058)', () => {
  const links = new ClickLinks('email-sender-spec-secret-0123456789abcdef', 'https://notify.example');
  const profiles = { profiles: async () => new Map([['u-1', { userId: 'u-1', email: 'u-1@example.com', phone: null, locale: null }]]) };
  let server: FakeSmtp;
  let provider: EmailChannelProvider;

  beforeEach(async () => {
    server = await startFakeSmtp();
    provider = createEmailProvider({ driver: 'smtp', host: server.host, port: server.port, user: server.user, password: server.password, from: 'notify@example.com', maxConnections: 1 });
  });
  afterEach(async () => {
    await provider.close();
    await server.close();
  });

  /** The header fields of a mail as it arrived, unfolded, by lower-case name. */
  function headersOf(raw: string): Map<string, string[]> {
    const fields = raw.slice(0, raw.search(/\r?\n\r?\n/)).replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
    const headers = new Map<string, string[]>();
    for (const field of fields) {
      const colon = field.indexOf(':');
      const name = field.slice(0, colon).toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), field.slice(colon + 1).trim()]);
    }
    return headers;
  }

  it('gives mail sent to a topic both headers, naming an HTTPS link that verifies to the user and the topic; mail to one user gets neither', async () => {
    const sender = new EmailSender(provider, profiles, new WeightedLimit(2), undefined, links);
    const toTopic = job(1);
    const jobs = [{ ...toTopic, message: { ...toTopic.message, topic: 'promotions' } }, job(2)];
    const attempts = await (await sender.plan(jobs)).send(jobs);
    expect(attempts.map((a) => a.result.kind)).toEqual(['accepted', 'accepted']);

    const received = server.mails.map((mail) => headersOf(mail.raw));
    const [broadcast, single] = ['m-1', 'm-2'].map((id) => received.find((headers) => headers.get('x-notify-message-id')?.[0] === id));
    expect(broadcast!.get('list-unsubscribe-post')).toEqual(['List-Unsubscribe=One-Click']);
    const [unsubscribe] = broadcast!.get('list-unsubscribe') ?? [];
    const url = new URL(/^<(https:\/\/[^>]+)>$/.exec(unsubscribe ?? '')![1]!);
    expect(url.origin).toBe('https://notify.example');
    expect(links.subscriptionOf(url.pathname.replace(/^\/u\//, ''))).toEqual({ userId: 'u-1', topic: 'promotions' });
    expect([single!.has('list-unsubscribe'), single!.has('list-unsubscribe-post')]).toEqual([false, false]);
  });
});
