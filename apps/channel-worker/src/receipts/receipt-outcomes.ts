import { ProviderErrorCode, type ReceiptStatus } from '@notify/channels';
import { EARLIEST_STORABLE_MS } from '@notify/contracts';
import type { ReceiptOutcome } from '@notify/persistence';
import { receiptKey } from './receipt-keys';

/**
 * The adapters' readings of a failure that end the delivery (`ReceiptStatus.meaning`, from each
 * vendor's documented codes): the address is wrong or gone, or the vendor refused the message
 * itself. Any other failure is `undelivered`, retried as the route's policy says, which ends in
 * `dead` when the attempts run out.
 */
const ENDS_THE_DELIVERY: ReadonlySet<ProviderErrorCode> = new Set([ProviderErrorCode.InvalidEndpoint, ProviderErrorCode.EndpointGone, ProviderErrorCode.Rejected]);

/**
 * What one receipt status does to the send it names. A push is named with its token (the key its
 * send stored, `receiptKey`); a push receipt that names no token matches nothing.
 */
export function receiptOutcomeOf(provider: string, channel: string, status: ReceiptStatus, receivedAt: Date): ReceiptOutcome | undefined {
  if (channel === 'push' && status.endpoint === undefined) return undefined;
  const key = receiptKey(provider, status.providerMessageId, channel === 'push' ? status.endpoint : undefined);
  if (status.status === 'delivered') return { receiptKey: key, status: 'delivered', error: null, deliveredAt: validTime(status.at, receivedAt) };
  const { meaning } = status;
  if (meaning === undefined || !ENDS_THE_DELIVERY.has(meaning)) {
    // A failure the installation caused keeps saying so in the delivery's last error, where the alert points.
    const error = meaning === ProviderErrorCode.Misconfigured ? ProviderErrorCode.Misconfigured : ProviderErrorCode.Undelivered;
    return { receiptKey: key, status: 'failed', error, deliveredAt: null };
  }
  const dead: ReceiptOutcome = { receiptKey: key, status: 'dead', error: meaning, deliveredAt: null };
  if (channel !== 'push' || status.tokenGone !== true) return dead;
  // A registration made after the vendor saw the app gone (a reinstall) is left active.
  return { ...dead, deactivation: { provider, token: status.endpoint!, reason: `${provider}: receipt ${status.error ?? meaning}`, seenAt: validTime(status.at, receivedAt) } };
}

/**
 * The vendor's time of delivery, unless it is missing, later than the receipt itself (a vendor's
 * clock ahead of ours), or before the year 1, which PostgreSQL cannot store (a negative timestamp
 * failed the whole request, every other status in it too, at each of the vendor's retries).
 */
function validTime(at: Date | undefined, receivedAt: Date): Date {
  return at === undefined || Number.isNaN(at.getTime()) || at > receivedAt || at.getTime() < EARLIEST_STORABLE_MS ? receivedAt : at;
}
