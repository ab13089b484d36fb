import { ReceiptFormatError, type ReceiptStatus } from '../../ports';

/** Receipt status 0 means delivered; every other documented status is a failure reason for that token. */
const DELIVERED = 0;

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
  return statuses.map((entry: unknown, index) => {
    const given = (entry ?? {}) as HmsStatus;
    const { requestId, token } = given;
    const status = given.deliveryStatus?.result ?? given.status;
    const timestamp = given.deliveryStatus?.timestamp ?? given.timestamp;
    if (typeof requestId !== 'string' || typeof status !== 'number') throw new ReceiptFormatError('hms', `status ${index} lacks requestId or status`);
    return {
      providerMessageId: requestId,
      status: status === DELIVERED ? 'delivered' : 'failed',
      ...(typeof token === 'string' ? { endpoint: token } : {}),
      ...(status === DELIVERED ? {} : { error: String(status) }),
      ...(typeof timestamp === 'number' ? { at: new Date(timestamp) } : {}),
    };
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ReceiptFormatError('hms', 'body is not JSON');
  }
}
