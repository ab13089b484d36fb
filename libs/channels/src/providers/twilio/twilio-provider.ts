import { randomUUID } from 'node:crypto';
import {
  assertE164,
  HttpClient,
  silentLog,
  systemClock,
  type Clock,
  type HttpAnswer,
  type ProviderGuard,
  type ProviderLog,
  type ReceiptRequest,
  type ReceiptStatus,
  type SendReceipt,
  type SmsChannelProvider,
  type SmsMessage,
} from '../../ports';
import { twilioError } from './twilio-errors';
import { parseTwilioReceipt } from './twilio-receipt';
import { twilioSignatureMatches } from './twilio-signature';
import type { TwilioSettings } from './twilio-settings';

/** Twilio Programmable Messaging (`Messages.json`), Basic auth with the account SID and auth token. */
export class TwilioProvider implements SmsChannelProvider {
  readonly id = 'twilio';
  readonly channel = 'sms' as const;
  readonly receipts: 'signed' | undefined;
  private readonly http = new HttpClient('twilio');
  private readonly url: string;
  private readonly authorization: string;

  constructor(
    private readonly settings: TwilioSettings,
    private readonly guard: ProviderGuard,
    private readonly clock: Clock = systemClock,
    private readonly log: ProviderLog = silentLog,
  ) {
    this.url = `${settings.baseUrl.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`;
    this.authorization = `Basic ${Buffer.from(`${settings.accountSid}:${settings.authToken}`).toString('base64')}`;
    this.receipts = settings.statusCallbackUrl === undefined ? undefined : 'signed';
  }

  async send(message: SmsMessage): Promise<SendReceipt> {
    assertE164(this.id, message.to);
    const form = new URLSearchParams({ To: message.to, Body: message.body });
    // A Messaging Service's sid is MG and 32 hex digits; an alphanumeric sender may start with MG too (MGMHotels).
    form.set(/^MG[0-9a-f]{32}$/.test(this.settings.from) ? 'MessagingServiceSid' : 'From', this.settings.from);
    if (this.settings.statusCallbackUrl !== undefined) form.set('StatusCallback', this.settings.statusCallbackUrl);
    return this.guard.run(async (signal) => {
      const answer = await this.http.call({
        method: 'POST',
        url: this.url,
        headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        signal,
      });
      if (answer.status < 200 || answer.status >= 300) throw twilioError(answer, message.to, this.clock.now());
      // Any 2xx is the message accepted, readable or not: taken for a failure, it was sent again on every retry.
      const body = resourceOf(answer);
      if (typeof body.sid !== 'string' || body.sid === '') {
        // Only the status: Twilio's answer quotes the number.
        this.log.warn({ provider: this.id, status: answer.status }, 'SMS accepted, but the answer has no message sid: its status callbacks will not be matched');
        return { providerMessageId: `twilio-${randomUUID()}`, acceptedAt: new Date(this.clock.now()) };
      }
      const created = typeof body.date_created === 'string' ? Date.parse(body.date_created) : Number.NaN;
      return { providerMessageId: body.sid, acceptedAt: new Date(Number.isNaN(created) ? this.clock.now() : created) };
    });
  }

  parseReceipt(body: unknown): ReceiptStatus[] {
    return parseTwilioReceipt(body);
  }

  /** Signed for the status callback URL this provider gives Twilio; without one, Twilio posts no receipts. */
  receiptSigned({ headers, body }: ReceiptRequest): boolean {
    const url = this.settings.statusCallbackUrl;
    const signature = headers['x-twilio-signature'];
    if (url === undefined || typeof signature !== 'string' || !isForm(body)) return false;
    // Twilio signs some requests for the URL with its scheme's port and some without (as its own
    // libraries note), so both forms are tried.
    return [url, ...otherPortForm(url)].some((form) => twilioSignatureMatches(signature, this.settings.authToken, form, body));
  }

  close(): Promise<void> {
    this.http.close();
    return Promise.resolve();
  }
}

/** The Message resource of a 2xx answer, or nothing of it when the body is not a JSON object. */
function resourceOf(answer: HttpAnswer): { sid?: unknown; date_created?: unknown } {
  try {
    const value = JSON.parse(answer.body) as unknown;
    return typeof value === 'object' && value !== null ? (value as { sid?: unknown; date_created?: unknown }) : {};
  } catch {
    return {};
  }
}

/** A parsed form: every value a string, or a list of them for a repeated name. */
function isForm(body: unknown): body is Record<string, string | string[]> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  return Object.values(body).every((value) => typeof value === 'string' || (Array.isArray(value) && value.every((each) => typeof each === 'string')));
}

/**
 * The URL's other form for Twilio's signature: with its scheme's default port written out when it
 * names none, without it when it names that port. A URL with another port has no other form. Read
 * from the text: `URL` drops a default port it was given, so it cannot tell the two apart.
 */
function otherPortForm(url: string): string[] {
  const match = /^(https?):\/\/([^/?#]*)(.*)$/s.exec(url);
  if (match === null) return [];
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string];
  const defaultPort = scheme === 'https' ? '443' : '80';
  const hostAndPort = /^(.*?)(?::(\d+))?$/.exec(authority)!;
  const [, host, port] = hostAndPort as unknown as [string, string, string | undefined];
  // An IPv6 address's colons are inside its brackets: a port follows the closing one.
  if (port !== undefined && host.includes('[') && !host.endsWith(']')) return [];
  if (port === undefined) return [`${scheme}://${authority}:${defaultPort}${rest}`];
  return port === defaultPort ? [`${scheme}://${host}${rest}`] : [];
}
