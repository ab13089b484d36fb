import { ProviderErrorCode, ReceiptFormatError, type ReceiptStatus } from '../../ports';

/**
 * Error codes of an undelivered text that say more than "not this time" (Twilio's error dictionary).
 * No retry can change these: 30004 message blocked (the recipient opted out or blocked the sender),
 * 30005 unknown destination handset, 30006 landline or unreachable carrier, 30007 filtered by the
 * carrier as spam. These blame the account, not the number, and block every text alike until an
 * operator acts (Twilio takes the send with a 201 and reports the block here): 30002 account
 * suspended, 30032 toll-free number not verified, 30034 10DLC number not registered for US traffic.
 * The rest (30003 unreachable handset, 30008 unknown error, …) are worth a retry.
 */
const MEANINGS: ReadonlyMap<string, ProviderErrorCode> = new Map([
  ['30004', ProviderErrorCode.EndpointGone],
  ['30005', ProviderErrorCode.InvalidEndpoint],
  ['30006', ProviderErrorCode.InvalidEndpoint],
  ['30007', ProviderErrorCode.Rejected],
  ['30002', ProviderErrorCode.Misconfigured],
  ['30032', ProviderErrorCode.Misconfigured],
  ['30034', ProviderErrorCode.Misconfigured],
]);

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
    const error = typeof ErrorCode === 'string' && ErrorCode !== '' ? ErrorCode : MessageStatus;
    const meaning = MEANINGS.get(error);
    return [{ providerMessageId: MessageSid, status: 'failed', error, ...(meaning === undefined ? {} : { meaning }) }];
  }
  return [];
}
