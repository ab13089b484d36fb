import {
  mask,
  sendEachToken,
  systemClock,
  type Clock,
  type ProviderLog,
  type PushBatch,
  type PushChannelProvider,
  type PushMessage,
  type PushResult,
  type SendReceipt,
} from '../../ports';
import { logReceipt } from './log-receipt';

/** The default push driver: accepts everything and logs the masked token, never the content. */
export class LogPushProvider implements PushChannelProvider {
  readonly id = 'log';
  readonly channel = 'push' as const;

  constructor(
    private readonly log: ProviderLog,
    private readonly clock: Clock = systemClock,
  ) {}

  send(message: PushMessage): Promise<SendReceipt> {
    const receipt = logReceipt(this.clock.now());
    this.log.info({ provider: this.id, channel: this.channel, to: mask(message.token), providerMessageId: receipt.providerMessageId }, 'push accepted by the log driver');
    return Promise.resolve(receipt);
  }

  sendMany(batch: PushBatch): Promise<PushResult[]> {
    return sendEachToken(this.id, batch, (message) => this.send(message));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
