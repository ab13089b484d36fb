import type { SmsChannelProvider } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { WeightedLimit } from '../delivery/weighted-limit';
import type { ChannelSender, SendPlan } from './channel-sender';
import type { RecipientStore } from '@notify/persistence';
import { currentEndpoints, unreachable } from './current-endpoint';
import { isGsm7 } from './gsm-text';
import { attempt } from './send-attempt';
import { SMS_TEXT_UNITS, SMS_UCS2_TEXT_UNITS, summaryTitle } from '../delivery/summaries';

/** SMS to the job's E.164 number while it is still its user's; the adapter checks the number before any vendor call. */
export class SmsSender implements ChannelSender {
  readonly channel = 'sms' as const;

  constructor(
    private readonly provider: SmsChannelProvider,
    private readonly recipients: RecipientStore,
    private readonly limit: WeightedLimit,
  ) {}

  get textLimit(): number | undefined {
    return this.provider.maxTextUnits;
  }

  async plan(jobs: DeliveryJob[]): Promise<SendPlan> {
    const isCurrent = await currentEndpoints(this.recipients, jobs, 'phone');
    return {
      send: (claimed) =>
        Promise.all(
          claimed.map((job) =>
            isCurrent(job) ? this.limit.run(1, () => attempt(job, this.provider.id, () => this.provider.send({ to: job.endpoint, body: smsText(job, this.provider) }))) : unreachable(job),
          ),
        ),
    };
  }
}

/**
 * An SMS has no title: the body alone, or the title when the message has no body, cut to what one
 * send may carry (by its alphabet, and the vendor's own limit: a longer one is
 * refused for good, and the user's last channel carries nothing); with neither, "1 new message" in
 * the delivery's language (an empty body is refused too). The message's link follows the text,
 * unless the vendor refuses links.
 */
export function smsText(job: DeliveryJob, vendor: Pick<SmsChannelProvider, 'maxTextUnits' | 'carriesLinks'> = {}): string {
  const body = job.message.body.trim() === '' ? job.message.title : job.message.body;
  const text = body.trim() === '' ? summaryTitle(job.locale, 1) : body;
  const url = vendor.carriesLinks === false ? undefined : job.message.url;
  // The link goes whole after the text, which gives way (a link too long to leave room is left out).
  const within = (units: number): string => {
    const link = url && url.length <= units / 2 ? url : undefined;
    return link ? `${cut(text, units - link.length - 1)} ${link}` : cut(text, units);
  };
  // The GSM length when what it keeps is all GSM (a character past the cut does not count), else the UCS-2 one.
  const vendorUnits = vendor.maxTextUnits ?? Infinity;
  const long = within(Math.min(vendorUnits, SMS_TEXT_UNITS));
  return isGsm7(long) ? long : within(Math.min(vendorUnits, SMS_UCS2_TEXT_UNITS));
}

/**
 * At most `units` UTF-16 units, with an ellipsis when cut, never through a surrogate pair. The
 * ellipsis is three dots when what is kept is all of the GSM alphabet, which `…` would make a UCS-2 SMS.
 */
function cut(text: string, units: number): string {
  if (text.length <= units) return text;
  const ellipsis = isGsm7(text.slice(0, units - 3)) ? '...' : '…';
  let end = units - ellipsis.length;
  if (/[\uD800-\uDBFF]/.test(text[end - 1]!)) end -= 1;
  return `${text.slice(0, end)}${ellipsis}`;
}
