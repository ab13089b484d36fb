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
  // Push Kit's receipt states: 2 the app is not installed, 5 the token is not on the device,
  // 6 the user turned the app's notifications off, 10 the device has not been online for 30
  // days, 201 the app is barred from messages until it is opened again. (15, an offline message
  // replaced by a newer one, and 102, the device's daily limit, are worth a retry.)
  hms: {
    '2': ProviderErrorCode.EndpointGone,
    '5': ProviderErrorCode.EndpointGone,
    '6': ProviderErrorCode.EndpointGone,
    '10': ProviderErrorCode.EndpointGone,
    '201': ProviderErrorCode.EndpointGone,
  },
  // Mi Push callback type 16: the regId is not a valid target.
  xiaomi: { invalid_target: ProviderErrorCode.InvalidEndpoint },
};

/** What an adapter's own reading of a failure (`ReceiptStatus.meaning`) ends: the address is wrong or gone. */
const ENDS_THE_DELIVERY: ReadonlySet<ProviderErrorCode> = new Set([ProviderErrorCode.InvalidEndpoint, ProviderErrorCode.EndpointGone]);

/** What a vendor's failure means when no retry can change it; nothing when one may. */
function permanentOf(provider: string, status: ReceiptStatus): ProviderErrorCode | undefined {
  if (status.meaning !== undefined) return ENDS_THE_DELIVERY.has(status.meaning) ? status.meaning : undefined;
  return status.error === undefined ? undefined : PERMANENT[provider]?.[status.error];
}

/** Vendor codes that say the token itself will never work again: its device is deactivated, as for a dead token at the send. */
const TOKEN_GONE: Readonly<Record<string, ReadonlySet<string>>> = { hms: new Set(['2', '5']), xiaomi: new Set(['invalid_target']) };

/**
 * What one receipt status does to the send it names. A push is named with its token (the key its
 * send stored, `receiptKey`); a push receipt that names no token matches nothing.
 */
export function receiptOutcomeOf(provider: string, channel: string, status: ReceiptStatus, receivedAt: Date): ReceiptOutcome | undefined {
  if (channel === 'push' && status.endpoint === undefined) return undefined;
  const key = receiptKey(provider, status.providerMessageId, channel === 'push' ? status.endpoint : undefined);
  if (status.status === 'delivered') return { receiptKey: key, status: 'delivered', error: null, deliveredAt: validTime(status.at, receivedAt) };
  const permanent = permanentOf(provider, status);
  if (permanent === undefined) {
    // A failure the installation caused keeps saying so in the delivery's last error, where the alert points.
    const error = status.meaning === ProviderErrorCode.Misconfigured ? ProviderErrorCode.Misconfigured : ProviderErrorCode.Undelivered;
    return { receiptKey: key, status: 'failed', error, deliveredAt: null };
  }
  const dead: ReceiptOutcome = { receiptKey: key, status: 'dead', error: permanent, deliveredAt: null };
  if (channel !== 'push' || !TOKEN_GONE[provider]?.has(status.error!)) return dead;
  // A registration made after the vendor saw the app gone (a reinstall) is left active.
  return { ...dead, deactivation: { provider, token: status.endpoint!, reason: `${provider}: receipt ${status.error}`, seenAt: validTime(status.at, receivedAt) } };
}

/** The vendor's time of delivery, unless it is missing or later than the receipt itself (a vendor's clock ahead of ours). */
function validTime(at: Date | undefined, receivedAt: Date): Date {
  return at === undefined || Number.isNaN(at.getTime()) || at > receivedAt ? receivedAt : at;
}
