import { randomUUID } from 'node:crypto';
import {
  assertE164,
  HttpClient,
  systemClock,
  silentLog,
  type Clock,
  type ProviderGuard,
  type ProviderLog,
  type SendReceipt,
  type SmsChannelProvider,
  type SmsMessage,
} from '../../ports';
import { httpSmsError, messageIdAt } from './http-sms-answer';
import type { HttpSmsSettings } from './http-sms-settings';
import { contentTypeOf, renderSmsBody } from './sms-body-template';

/** Any HTTP SMS gateway described by a URL, a body template and headers; any 2xx is acceptance. */
export class HttpSmsProvider implements SmsChannelProvider {
  readonly id = 'http-sms';
  readonly channel = 'sms' as const;
  private readonly http = new HttpClient('http-sms');

  constructor(
    private readonly settings: HttpSmsSettings,
    private readonly guard: ProviderGuard,
    private readonly clock: Clock = systemClock,
    private readonly log: ProviderLog = silentLog,
  ) {}

  async send(message: SmsMessage): Promise<SendReceipt> {
    assertE164(this.id, message.to);
    const body = renderSmsBody(this.settings, { to: message.to, body: message.body, from: this.settings.from });
    return this.guard.run(async (signal) => {
      const answer = await this.http.call({
        method: 'POST',
        url: this.settings.url,
        headers: { ...this.settings.headers, 'content-type': contentTypeOf(this.settings.format) },
        body,
        signal,
      });
      if (answer.status < 200 || answer.status >= 300) throw httpSmsError(answer, message.to, this.clock.now());
      // Any 2xx is the message accepted, with an id or not: taken for a failure, it was sent again on every retry.
      const path = this.settings.messageIdPath;
      const id = path === undefined ? undefined : messageIdAt(answer, path);
      if (path !== undefined && id === undefined) {
        this.log.warn({ provider: this.id, status: answer.status, messageIdPath: path }, 'SMS accepted, but the answer has no message id at messageIdPath: check the setting');
      }
      return { providerMessageId: id ?? `http-sms-${randomUUID()}`, acceptedAt: new Date(this.clock.now()) };
    });
  }

  close(): Promise<void> {
    this.http.close();
    return Promise.resolve();
  }
}
