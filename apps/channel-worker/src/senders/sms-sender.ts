import type { SmsChannelProvider } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { WeightedLimit } from '../delivery/weighted-limit';
import type { ChannelSender, SendPlan } from './channel-sender';
import { attempt } from './send-attempt';

/** SMS to the job's E.164 number; the adapter checks the number before any vendor call. */
export class SmsSender implements ChannelSender {
  readonly channel = 'sms' as const;

  constructor(
    private readonly provider: SmsChannelProvider,
    private readonly limit: WeightedLimit,
  ) {}

  plan(): Promise<SendPlan> {
    return Promise.resolve({
      send: (claimed) =>
        Promise.all(claimed.map((job) => this.limit.run(1, () => attempt(job, this.provider.id, () => this.provider.send({ to: job.endpoint, body: smsText(job) }))))),
    });
  }
}

/** An SMS has no title: the body alone, or the title when the message has no body. */
export function smsText(job: DeliveryJob): string {
  return job.message.body.trim() === '' ? job.message.title : job.message.body;
}
