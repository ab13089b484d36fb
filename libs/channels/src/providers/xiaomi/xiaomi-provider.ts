import {
  asProviderError,
  chunk,
  failEveryToken,
  receiptOfOnly,
  HttpClient,
  systemClock,
  type Clock,
  type ProviderGuard,
  type PushBatch,
  type PushChannelProvider,
  type PushMessage,
  type PushResult,
  type ReceiptStatus,
  type SendReceipt,
} from '../../ports';
import { xiaomiResults } from './xiaomi-answer';
import { xiaomiForm } from './xiaomi-form';
import { parseXiaomiReceipt } from './xiaomi-receipt';
import type { XiaomiSettings } from './xiaomi-settings';

/** Mi Push takes at most 1000 regids per request. */
const MAX_REGIDS = 1000;

/** Xiaomi Mi Push server API (`/v3/message/regid`), regid lists per request. */
export class XiaomiProvider implements PushChannelProvider {
  readonly id = 'xiaomi';
  readonly channel = 'push' as const;
  readonly receipts: 'unsigned' | undefined;
  private readonly http = new HttpClient('xiaomi');
  private readonly sendUrl: string;

  constructor(
    private readonly settings: XiaomiSettings,
    private readonly guard: ProviderGuard,
    private readonly clock: Clock = systemClock,
  ) {
    this.sendUrl = `${settings.baseUrl.replace(/\/$/, '')}/v3/message/regid`;
    this.receipts = settings.receiptUrl === undefined ? undefined : 'unsigned';
  }

  async send(message: PushMessage): Promise<SendReceipt> {
    return receiptOfOnly(this.id, await this.sendMany({ tokens: [message.token], content: message.content }));
  }

  async sendMany(batch: PushBatch): Promise<PushResult[]> {
    const results = await Promise.all(chunk(batch.tokens, MAX_REGIDS).map((regids) => this.sendChunk(regids, batch)));
    return results.flat();
  }

  parseReceipt(body: unknown): ReceiptStatus[] {
    return parseXiaomiReceipt(body);
  }

  close(): Promise<void> {
    this.http.close();
    return Promise.resolve();
  }

  private async sendChunk(regids: string[], batch: PushBatch): Promise<PushResult[]> {
    const form = xiaomiForm(regids, batch.content, this.settings, this.clock.now()).toString();
    try {
      return await this.guard.run(async (signal) => {
        const answer = await this.http.call({
          method: 'POST',
          url: this.sendUrl,
          headers: { authorization: `key=${this.settings.appSecret}`, 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
          body: form,
          signal,
        });
        return xiaomiResults(answer, regids, new Date(this.clock.now()));
      });
    } catch (error) {
      return failEveryToken(regids, asProviderError(this.id, error));
    }
  }
}
