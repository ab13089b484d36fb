import type { WorkerChannel } from '@notify/config';
import type { ClickLinks } from '@notify/contracts';
import type { PushDeviceStore, RecipientStore } from '@notify/persistence';
import { WeightedLimit } from '../delivery/weighted-limit';
import type { ChannelProviders } from '../providers/channel-providers';
import type { ChannelSender } from './channel-sender';
import { EmailSender } from './email-sender';
import { PushSender } from './push-sender';
import { SmsSender } from './sms-sender';

/** The sender of each channel this process runs, each with its own concurrency limit (push: one per vendor). */
export class ChannelSenders {
  constructor(
    private readonly providers: ChannelProviders,
    private readonly devices: PushDeviceStore,
    private readonly recipients: RecipientStore,
    private readonly concurrency: number,
    /** Keys each mail's Message-ID, which bounces name it by (`EmailSender`). */
    private readonly messageKeySecret?: string,
    /** Sign the one-click unsubscribe of mail sent to a topic (`EmailSender`). */
    private readonly links?: ClickLinks,
  ) {}

  senderFor(channel: WorkerChannel): ChannelSender {
    const { push, sms, email } = this.providers;
    switch (channel) {
      case 'push':
        // One limit per vendor (`PushSender`).
        if (push) return new PushSender(push, this.devices, this.concurrency);
        break;
      case 'sms':
        if (sms) return new SmsSender(sms, this.recipients, new WeightedLimit(this.concurrency));
        break;
      case 'email':
        if (email) return new EmailSender(email, this.recipients, new WeightedLimit(this.concurrency), this.messageKeySecret, this.links);
        break;
    }
    throw new Error(`the ${channel} channel is not configured in this process`);
  }
}
