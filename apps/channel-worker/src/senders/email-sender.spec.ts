import type { DeliveryJob } from '@notify/contracts';
import MailComposer from 'nodemailer/lib/mail-composer';
import { deliveryJob } from '../delivery/jobs.spec-helper';
import { summarize } from '../delivery/summaries';
import { EMAIL_SUBJECT_CHARS, emailOf } from './email-sender';

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
