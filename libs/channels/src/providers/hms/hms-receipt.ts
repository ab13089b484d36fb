import { ProviderErrorCode, ReceiptFormatError, type ReceiptStatus } from '../../ports';

/** Receipt status 0 means delivered; every other documented status is a failure reason for that token. */
const DELIVERED = 0;

/**
 * Receipt states that no retry can change: 2 the app is not installed (the token is gone for good),
 * 6 the user turned the app's notifications off, 10 the device has not been online for 30 days.
 * (5, the token belongs to another Android user of the device than the one using it now — a second
 * profile or a private space — keeps its token and is worth a retry, as are 15, an offline message
 * replaced by a newer one, and 102, the device's daily limit.)
 */
const FINAL: ReadonlyMap<number, Pick<ReceiptStatus, 'meaning' | 'tokenGone'>> = new Map([
  [2, { meaning: ProviderErrorCode.EndpointGone, tokenGone: true }],
  [6, { meaning: ProviderErrorCode.EndpointGone }],
  [10, { meaning: ProviderErrorCode.EndpointGone }],
]);

/**
 * States in which the message is held to be handed over later, so neither arrived nor failed: the
 * send stays `sent`. 201: Push Kit holds it under its control of the device and sends it, if it has
 * not expired, once the device has the control lifted (the app opened again). 27: the device has a
 * data message for an app whose process is not running, and keeps it until the app starts. Ended,
 * their route's next tier went out and the push came later as well; retried, it came twice.
 */
const HELD: ReadonlySet<number> = new Set([27, 201]);

interface HmsStatus {
  requestId?: unknown;
  token?: unknown;
  status?: unknown;
  timestamp?: unknown;
  deliveryStatus?: { result?: unknown; timestamp?: unknown } | null;
}

/**
 * Push Kit's message receipt, in either version AppGallery Connect may be set to send:
 * `{ "statuses": [{ "requestId", "token", "status", "timestamp" }] }` (V1), or with the state in
 * `"deliveryStatus": { "result", "timestamp" }` (V2).
 */
export function parseHmsReceipt(body: unknown): ReceiptStatus[] {
  const parsed: unknown = typeof body === 'string' ? parseJson(body) : body;
  const statuses = (parsed as { statuses?: unknown } | null)?.statuses;
  if (!Array.isArray(statuses)) throw new ReceiptFormatError('hms', 'no statuses array');
  return statuses.flatMap((entry: unknown, index): ReceiptStatus[] => {
    const given = (entry ?? {}) as HmsStatus;
    const { requestId, token } = given;
    const status = given.deliveryStatus?.result ?? given.status;
    const timestamp = given.deliveryStatus?.timestamp ?? given.timestamp;
    if (typeof requestId !== 'string' || typeof status !== 'number') throw new ReceiptFormatError('hms', `status ${index} lacks requestId or status`);
    if (HELD.has(status)) return [];
    return [{
      providerMessageId: requestId,
      status: status === DELIVERED ? 'delivered' : 'failed',
      ...(typeof token === 'string' ? { endpoint: token } : {}),
      ...(status === DELIVERED ? {} : { error: String(status), ...FINAL.get(status) }),
      ...(typeof timestamp === 'number' ? { at: new Date(timestamp) } : {}),
    }];
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ReceiptFormatError('hms', 'body is not JSON');
  }
}
