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
  type ReceiptStatus,
  type SendReceipt,
  type SmsChannelProvider,
  type SmsMessage,
} from '../../ports';
import { aliyunError, type AliyunAnswerBody } from './aliyun-errors';
import { parseAliyunReceipt } from './aliyun-receipt';
import type { AliyunSmsSettings } from './aliyun-settings';
import { rpcSignature } from './aliyun-signature';

/** The most characters an Aliyun SMS holds, its signature included (its SMS rules). */
const ALIYUN_MAX_SMS_CHARACTERS = 500;

/** Alibaba Cloud SMS (Dysmsapi 2017-05-25 `SendSms`), RPC style with the HMAC-SHA1 request signature. */
export class AliyunSmsProvider implements SmsChannelProvider {
  readonly id = 'aliyun';
  readonly channel = 'sms' as const;
  /** SMS reports go to the URL set in the console. */
  readonly receipts = 'unsigned' as const;
  /** Aliyun refuses a URL passed in a template variable (`isv.PARAM_NOT_SUPPORT_URL`) for good. */
  readonly carriesLinks = false;
  /** Aliyun takes 500 characters in all, the signature in its brackets (【…】) included; more is refused for good. */
  readonly maxTextUnits: number;
  private readonly http = new HttpClient('aliyun');
  private readonly url: string;

  constructor(
    private readonly settings: AliyunSmsSettings,
    private readonly guard: ProviderGuard,
    private readonly clock: Clock = systemClock,
    private readonly log: ProviderLog = silentLog,
  ) {
    this.url = `${settings.baseUrl.replace(/\/$/, '')}/`;
    this.maxTextUnits = ALIYUN_MAX_SMS_CHARACTERS - settings.signName.length - 2;
  }

  async send(message: SmsMessage): Promise<SendReceipt> {
    assertE164(this.id, message.to);
    return this.guard.run(async (signal) => {
      // Signed inside the call: the timestamp and nonce belong to this attempt.
      const answer = await this.http.call({
        method: 'POST',
        url: this.url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: this.signedParams(message).toString(),
        signal,
      });
      const body = parse(answer);
      // A 2xx is the message accepted unless its JSON names a Code other than OK: one that cannot be
      // read, or an OK without a BizId, taken for a failure was sent again on every retry.
      const accepted = answer.status >= 200 && answer.status < 300 && (body === undefined || body.Code === 'OK');
      if (!accepted) throw aliyunError(answer, body ?? {}, message.to, this.clock.now());
      const bizId: unknown = body?.BizId;
      if (typeof bizId === 'string' && bizId !== '') return { providerMessageId: bizId, acceptedAt: new Date(this.clock.now()) };
      // Only the status and the request id: the number stays out of the log.
      this.log.warn(
        { provider: this.id, status: answer.status, requestId: body?.RequestId },
        body === undefined ? 'SMS accepted, but the answer is not JSON: its reports will not be matched' : 'SMS accepted, but the answer has no BizId: its reports will not be matched',
      );
      return { providerMessageId: `aliyun-${randomUUID()}`, acceptedAt: new Date(this.clock.now()) };
    });
  }

  parseReceipt(body: unknown): ReceiptStatus[] {
    return parseAliyunReceipt(body);
  }

  close(): Promise<void> {
    this.http.close();
    return Promise.resolve();
  }

  private signedParams(message: SmsMessage): URLSearchParams {
    const template = message.template ?? { code: this.settings.templateCode, params: { [this.settings.bodyParam]: message.body } };
    const params: Record<string, string> = {
      AccessKeyId: this.settings.accessKeyId,
      Action: 'SendSms',
      Format: 'JSON',
      // Aliyun takes the country code without the plus sign.
      PhoneNumbers: message.to.slice(1),
      RegionId: this.settings.regionId,
      SignName: this.settings.signName,
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: randomUUID(),
      SignatureVersion: '1.0',
      TemplateCode: template.code,
      TemplateParam: JSON.stringify(template.params),
      Timestamp: new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      Version: '2017-05-25',
    };
    return new URLSearchParams({ ...params, Signature: rpcSignature('POST', params, this.settings.accessKeySecret) });
  }
}

/** The answer's JSON object, or undefined when the body is not one (a proxy's page, a cut answer). */
function parse(answer: HttpAnswer): AliyunAnswerBody | undefined {
  try {
    const value = JSON.parse(answer.body) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as AliyunAnswerBody) : undefined;
  } catch {
    return undefined;
  }
}
