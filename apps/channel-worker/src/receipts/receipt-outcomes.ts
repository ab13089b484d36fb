import { ProviderErrorCode, type ReceiptStatus } from '@notify/channels';
import type { ReceiptOutcome } from '@notify/persistence';
import { receiptKey } from './receipt-keys';

/**
 * Vendor codes of a failed delivery that no retry can change, and what each means. The rest (a
 * phone switched off, a carrier's hiccup, a code not listed) are `undelivered`: retried as the
 * route's policy says, which ends in `dead` when the attempts run out.
 */
const PERMANENT: Readonly<Record<string, Readonly<Record<string, ProviderErrorCode>>>> = {
  twilio: {
    // Twilio's error dictionary: 30004 message blocked (the recipient opted out or blocked the
    // sender), 30005 unknown destination handset, 30006 landline or unreachable carrier,
    // 30007 filtered by the carrier as spam.
    '30004': ProviderErrorCode.EndpointGone,
    '30005': ProviderErrorCode.InvalidEndpoint,
    '30006': ProviderErrorCode.InvalidEndpoint,
    '30007': ProviderErrorCode.Rejected,
  },
};

/**
 * What one receipt status does to the send it names. A push is named with its token (the key its
 * send stored, `receiptKey`); a push receipt that names no token matches nothing.
 */
export function receiptOutcomeOf(provider: string, channel: string, status: ReceiptStatus, receivedAt: Date): ReceiptOutcome | undefined {
  if (channel === 'push' && status.endpoint === undefined) return undefined;
  const key = receiptKey(provider, status.providerMessageId, channel === 'push' ? status.endpoint : undefined);
  if (status.status === 'delivered') return { receiptKey: key, status: 'delivered', error: null, deliveredAt: validTime(status.at, receivedAt) };
  const permanent = status.error === undefined ? undefined : PERMANENT[provider]?.[status.error];
  return permanent === undefined
    ? { receiptKey: key, status: 'failed', error: ProviderErrorCode.Undelivered, deliveredAt: null }
    : { receiptKey: key, status: 'dead', error: permanent, deliveredAt: null };
}

/** The vendor's time of delivery, unless it is missing or later than the receipt itself (a vendor's clock ahead of ours). */
function validTime(at: Date | undefined, receivedAt: Date): Date {
  return at === undefined || Number.isNaN(at.getTime()) || at > receivedAt ? receivedAt : at;
}
