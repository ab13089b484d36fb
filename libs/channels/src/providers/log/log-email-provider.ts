import { mask, systemClock, type Clock, type EmailChannelProvider, type EmailMessage, type ProviderLog, type SendReceipt } from '../../ports';
import { logReceipt } from './log-receipt';

/** The default email driver: logs the masked address, never the subject or body. */
export class LogEmailProvider implements EmailChannelProvider {
  readonly id = 'log';
  readonly channel = 'email' as const;

  constructor(
    private readonly log: ProviderLog,
    private readonly clock: Clock = systemClock,
  ) {}

  send(message: EmailMessage): Promise<SendReceipt> {
    const receipt = logReceipt(this.clock.now());
    this.log.info({ provider: this.id, channel: this.channel, to: mask(message.to), providerMessageId: receipt.providerMessageId }, 'email accepted by the log driver');
    return Promise.resolve(receipt);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
