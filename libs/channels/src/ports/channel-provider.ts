import type { Channel } from '@notify/contracts';
import type { ProviderErrorCode } from './provider-error';

/** What a provider answers when it has taken a message. */
export interface SendReceipt {
  /** The provider's own id of the message, for matching its later receipts. */
  providerMessageId: string;
  acceptedAt: Date;
}

/** A provider's status for one earlier send, parsed from its delivery receipt or webhook. */
export interface ReceiptStatus {
  providerMessageId: string;
  status: 'delivered' | 'failed';
  /** The endpoint the receipt is about, when the vendor names it (batch sends share one message id). */
  endpoint?: string;
  /** The vendor's error code or reason for a failure. */
  error?: string;
  /**
   * What the adapter makes of a failure, from the vendor's documented codes (and, for a bounce,
   * the reply it quotes): `invalid_endpoint`, `endpoint_gone` or `rejected` end the delivery, as no
   * retry can change them; `misconfigured` blames this installation; none, or anything else, is
   * worth a retry (a phone switched off, a carrier's hiccup, a code the adapter does not know).
   */
  meaning?: ProviderErrorCode;
  /** The push token itself will never work again (the app is gone from the device): its registration is deactivated. */
  tokenGone?: true;
  at?: Date;
}

/**
 * The narrow port every channel provider implements; one implementation per vendor.
 * `send` throws only `ProviderError`, whose `kind` tells the caller what to do next.
 */
export interface ChannelProvider<Message> {
  /** The adapter, e.g. `apns`, `twilio`, `log`. */
  readonly id: string;
  readonly channel: Channel;
  send(message: Message): Promise<SendReceipt>;
  /**
   * Whether the vendor sends this installation receipts of the sends: `signed` when it signs them
   * (`receiptSigned` checks), `unsigned` when it does not; none when it sends none (or was not asked
   * to: Twilio and Mi Push post only to a callback each message names, and bounces come only from a
   * return path set up to pass them on).
   */
  readonly receipts?: 'signed' | 'unsigned';
  /** Turns the vendor's delivery receipt or webhook body into statuses; throws (or rejects with) `ReceiptFormatError`. */
  parseReceipt?(body: unknown): ReceiptStatus[] | Promise<ReceiptStatus[]>;
  /**
   * Whether a receipt request carries the vendor's own signature, for vendors that sign theirs. A
   * vendor without one has its receipts taken only at a URL with the installation's receipts token.
   */
  receiptSigned?(request: ReceiptRequest): boolean;
  /** Ends pooled connections and sessions; the provider is not used afterwards. */
  close(): Promise<void>;
}

/** A receipt request as it arrived: its headers (names in lower case) and its parsed body. */
export interface ReceiptRequest {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: unknown;
}

/** A receipt or webhook body that is not in the vendor's documented shape. */
export class ReceiptFormatError extends Error {
  readonly code = 'invalid_receipt';

  constructor(
    readonly provider: string,
    reason: string,
  ) {
    super(`${provider}: invalid_receipt: ${reason}`);
    this.name = 'ReceiptFormatError';
  }
}
