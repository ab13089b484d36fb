import { ReceiptFormatError, type ReceiptStatus } from '../../ports';

/**
 * Twilio's status callback (a form post): only final statuses become receipts; `queued`, `sent`
 * and the like are steps on the way and produce nothing.
 */
export function parseTwilioReceipt(body: unknown): ReceiptStatus[] {
  const fields = typeof body === 'string' ? Object.fromEntries(new URLSearchParams(body)) : (body as Record<string, unknown> | null);
  if (typeof fields !== 'object' || fields === null) throw new ReceiptFormatError('twilio', 'body is not a form');
  const { MessageSid, MessageStatus, ErrorCode } = fields as { MessageSid?: unknown; MessageStatus?: unknown; ErrorCode?: unknown };
  if (typeof MessageSid !== 'string' || typeof MessageStatus !== 'string') throw new ReceiptFormatError('twilio', 'MessageSid or MessageStatus missing');
  if (MessageStatus === 'delivered') return [{ providerMessageId: MessageSid, status: 'delivered' }];
  if (MessageStatus === 'failed' || MessageStatus === 'undelivered') {
    return [{ providerMessageId: MessageSid, status: 'failed', error: typeof ErrorCode === 'string' && ErrorCode !== '' ? ErrorCode : MessageStatus }];
  }
  return [];
}
