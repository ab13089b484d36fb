import { ProviderErrorCode, ReceiptFormatError, type ReceiptStatus } from '../../ports';

/** Receipt types of the Mi Push callback: 1 delivered, 16 invalid target (the regId will never work again); clicks (2) are not delivery. */
const DELIVERED = 1;
const INVALID_TARGET = 16;

/**
 * The callback posts a form whose `data` field is JSON: `{ "<msgId>": { "type": 1, "targets": "regid,..." } }`.
 * Accepts that form as a string, as parsed fields, or the `data` object itself.
 */
export function parseXiaomiReceipt(body: unknown): ReceiptStatus[] {
  const data = dataOf(body);
  const statuses: ReceiptStatus[] = [];
  for (const [messageId, entry] of Object.entries(data)) {
    if (typeof entry !== 'object' || entry === null) throw new ReceiptFormatError('xiaomi', `entry ${messageId} is not an object`);
    const { type, targets } = entry as { type?: unknown; targets?: unknown };
    const kind = Number(type);
    if (kind !== DELIVERED && kind !== INVALID_TARGET) continue;
    for (const target of String(targets ?? '').split(',').filter((regid) => regid !== '')) {
      statuses.push(
        kind === DELIVERED
          ? { providerMessageId: messageId, status: 'delivered', endpoint: target }
          : { providerMessageId: messageId, status: 'failed', endpoint: target, error: 'invalid_target', meaning: ProviderErrorCode.InvalidEndpoint, tokenGone: true },
      );
    }
  }
  return statuses;
}

function dataOf(body: unknown): Record<string, unknown> {
  let data: unknown = body;
  if (typeof body === 'string') data = new URLSearchParams(body).get('data') ?? body;
  if (typeof data === 'object' && data !== null && 'data' in data) data = (data as { data: unknown }).data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data) as unknown;
    } catch {
      throw new ReceiptFormatError('xiaomi', 'data is not JSON');
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ReceiptFormatError('xiaomi', 'data is not an object keyed by message id');
  return data as Record<string, unknown>;
}
