import type { ChannelProvider, SendReceipt } from './channel-provider';
import type { ProviderError } from './provider-error';

/** What a push shows and carries, independent of the vendor. */
export interface PushContent {
  title: string;
  body: string;
  /** Key-value data for the app; vendors accept only string values. */
  data?: Record<string, string>;
  /** Pushes with the same key replace each other on the device (APNs collapse id, FCM collapse key). */
  collapseKey?: string;
  priority?: 'high' | 'normal' | 'low';
  /** The vendor drops the push if it cannot deliver it before this moment. */
  expiresAt?: Date;
  /** A background (content-available / data-only) push with no alert. */
  silent?: boolean;
  badge?: number;
  sound?: string;
}

export interface PushMessage {
  /** The device token as registered for this provider. */
  token: string;
  content: PushContent;
}

/** One content for many device tokens of the same provider. */
export interface PushBatch {
  tokens: string[];
  content: PushContent;
}

/** The outcome for one token of a batch: a receipt, or the error for that token alone. */
export type PushResult = { token: string; receipt: SendReceipt; error?: undefined } | { token: string; receipt?: undefined; error: ProviderError };

export interface PushChannelProvider extends ChannelProvider<PushMessage> {
  readonly channel: 'push';
  /**
   * Sends one content to many tokens: in one vendor request where the vendor takes token lists
   * (HMS, Xiaomi), else one request per token under the provider's limits. Never throws for one
   * token's failure; the result has one entry per token, in order.
   */
  sendMany(batch: PushBatch): Promise<PushResult[]>;
}

/** At most `chars` characters (whole code points), with an ellipsis when cut. */
export function shortened(text: string, chars: number): string {
  // A text of no more UTF-16 units than that has no more code points either: most pushes end here.
  if (text.length <= chars) return text;
  const points = [...text];
  return points.length <= chars ? text : `${points.slice(0, chars - 1).join('')}…`;
}

/**
 * `text`, or `other` when `text` is only white space. Mi Push and Push Kit refuse a notification
 * whose title or text is blank, so a push that has only one stands it in for the other.
 */
export function unlessBlank(text: string, other: string): string {
  return text.trim() === '' ? other : text;
}
