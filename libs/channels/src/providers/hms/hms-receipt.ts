import { ReceiptFormatError, type ReceiptStatus } from '../../ports';

/** Receipt status 0 means delivered; every other documented status is a failure reason for that token. */
const DELIVERED = 0;

/** Push Kit's message receipt: `{ "statuses": [{ "requestId", "token", "status", "timestamp" }] }`. */
export function parseHmsReceipt(body: unknown): ReceiptStatus[] {
  const parsed: unknown = typeof body === 'string' ? parseJson(body) : body;
  const statuses = (parsed as { statuses?: unknown } | null)?.statuses;
  if (!Array.isArray(statuses)) throw new ReceiptFormatError('hms', 'no statuses array');
  return statuses.map((entry: unknown, index) => {
    const { requestId, token, status, timestamp } = (entry ?? {}) as { requestId?: unknown; token?: unknown; status?: unknown; timestamp?: unknown };
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
