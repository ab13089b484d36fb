import type { Channel } from '@notify/contracts';

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
  error?: string;
}

/** The narrow port every channel provider implements; one implementation per vendor. */
export interface ChannelProvider<Message> {
  readonly id: string;
  readonly channel: Channel;
  send(message: Message): Promise<SendReceipt>;
  parseReceipt?(body: unknown): ReceiptStatus[];
}
