import { assertE164, mask, systemClock, type Clock, type ProviderLog, type SendReceipt, type SmsChannelProvider, type SmsMessage } from '../../ports';
import { logReceipt } from './log-receipt';

/** The default SMS driver: checks the number like a real one, logs it masked, never the text. */
export class LogSmsProvider implements SmsChannelProvider {
  readonly id = 'log';
  readonly channel = 'sms' as const;

  constructor(
    private readonly log: ProviderLog,
    private readonly clock: Clock = systemClock,
  ) {}

  async send(message: SmsMessage): Promise<SendReceipt> {
    assertE164(this.id, message.to);
    const receipt = logReceipt(this.clock.now());
    this.log.info({ provider: this.id, channel: this.channel, to: mask(message.to), providerMessageId: receipt.providerMessageId }, 'SMS accepted by the log driver');
    return receipt;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
