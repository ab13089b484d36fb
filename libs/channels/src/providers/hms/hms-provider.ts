import {
  AccessTokenCache,
  HttpClient,
  asProviderError,
  chunk,
  failEveryToken,
  receiptOfOnly,
  systemClock,
  type Clock,
  type HttpAnswer,
  type ProviderGuard,
  type PushBatch,
  type PushChannelProvider,
  type PushMessage,
  type PushResult,
  type ReceiptRequest,
  type ReceiptStatus,
  type SendReceipt,
} from '../../ports';
import { fetchHmsAccessToken } from './hms-access-token';
import { TOKEN_REFUSED, hmsBody, hmsResults } from './hms-answer';
import { hmsCallbackIdMatches } from './hms-callback-id';
import { hmsMessage } from './hms-message';
import { parseHmsReceipt } from './hms-receipt';
import type { HmsSettings } from './hms-settings';

/** Push Kit takes at most 1000 tokens per request. */
const MAX_TOKENS = 1000;

/** Huawei HMS Push Kit REST API v1: one request per up to 1000 tokens, results per token. */
export class HmsProvider implements PushChannelProvider {
  readonly id = 'hms';
  readonly channel = 'push' as const;
  /** Receipts go to the URL set in AppGallery Connect, signed when a callback user name and key are set there too. */
  readonly receipts: 'signed' | 'unsigned';
  private readonly accessToken: AccessTokenCache;
  private readonly sendUrl: string;
  private readonly http = new HttpClient('hms');

  constructor(
    private readonly settings: HmsSettings,
    private readonly guard: ProviderGuard,
    private readonly clock: Clock = systemClock,
  ) {
    this.receipts = settings.receiptCallback === undefined ? 'unsigned' : 'signed';
    this.accessToken = new AccessTokenCache((signal) => fetchHmsAccessToken(this.http, settings, clock, signal), clock);
    this.sendUrl = `${settings.baseUrl.replace(/\/$/, '')}/v1/${encodeURIComponent(settings.appId)}/messages:send`;
  }

  async send(message: PushMessage): Promise<SendReceipt> {
    return receiptOfOnly(this.id, await this.sendMany({ tokens: [message.token], content: message.content }));
  }

  async sendMany(batch: PushBatch): Promise<PushResult[]> {
    const results = await Promise.all(chunk(batch.tokens, MAX_TOKENS).map((tokens) => this.sendChunk(tokens, batch)));
    return results.flat();
  }

  parseReceipt(body: unknown): ReceiptStatus[] {
    return parseHmsReceipt(body);
  }

  /** Signed with the callback key, recently (the signature does not cover the body; `HMS_CALLBACK_WINDOW_MS`). */
  receiptSigned({ headers }: ReceiptRequest): boolean {
    const callback = this.settings.receiptCallback;
    return callback !== undefined && hmsCallbackIdMatches(headers['x-huawei-callback-id'], callback, this.clock.now());
  }

  close(): Promise<void> {
    this.http.close();
    return Promise.resolve();
  }

  private async sendChunk(tokens: string[], batch: PushBatch): Promise<PushResult[]> {
    const body = JSON.stringify({ validate_only: false, message: hmsMessage(tokens, batch.content, this.clock.now(), this.settings.category) });
    try {
      // Batch-wide errors are thrown inside the guard so that vendor trouble counts towards the breaker.
      return await this.guard.run(async (signal) => hmsResults(await this.post(body, signal, true), tokens, new Date(this.clock.now())));
    } catch (error) {
      return failEveryToken(tokens, asProviderError(this.id, error));
    }
  }

  private async post(body: string, signal: AbortSignal, mayRenewToken: boolean): Promise<HttpAnswer> {
    const accessToken = await this.accessToken.get(signal);
    const answer = await this.http.call({
      method: 'POST',
      url: this.sendUrl,
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json;charset=utf-8' },
      body,
      signal,
    });
    const code = hmsBody(answer).code;
    if (mayRenewToken && code !== undefined && TOKEN_REFUSED.has(code)) {
      this.accessToken.invalidate(accessToken);
      return this.post(body, signal, false);
    }
    return answer;
  }
}
