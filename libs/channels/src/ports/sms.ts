import type { ChannelProvider } from './channel-provider';

export interface SmsMessage {
  /** E.164, e.g. `+8613800000000`; checked before any vendor is called. */
  to: string;
  /** The rendered text; template-only vendors (Aliyun) pass it as a template parameter. */
  body: string;
  /** For vendors that send only approved templates: the template and its parameters. */
  template?: { code: string; params: Record<string, string> };
}

export interface SmsChannelProvider extends ChannelProvider<SmsMessage> {
  readonly channel: 'sms';
  /**
   * The longest text the vendor takes in one send, in characters, when that is fewer than the
   * platform's own limit of about ten SMS parts (Aliyun: 500 with the signature). Longer is cut.
   */
  readonly maxTextUnits?: number;
  /** False when the vendor refuses a link in the text (Aliyun: no URL in a template variable): the text then goes without it. */
  readonly carriesLinks?: boolean;
}
