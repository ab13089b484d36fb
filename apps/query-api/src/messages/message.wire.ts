import type { DeliveryTotals, StoredDelivery, StoredMessage } from '@notify/persistence';
import { toStruct } from '../grpc/struct';
import { toOptionalTimestamp, toTimestamp } from '../grpc/timestamp';

/** A stored message as notify.v1.Message. */
export function toWireMessage(message: StoredMessage) {
  return {
    id: message.id,
    requestId: message.requestId,
    type: message.type,
    recipient: toStruct(message.recipient),
    data: toStruct(message.data),
    contents: Object.entries(message.contents)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([locale, content]) => ({ locale, title: content.title, body: content.body })),
    locale: message.locale ?? '',
    priority: message.priority,
    sendAt: toOptionalTimestamp(message.sendAt),
    expiresAt: toOptionalTimestamp(message.expiresAt),
    createdAt: toTimestamp(message.createdAt),
    deliveries: message.deliveries.map(toWireDelivery),
  };
}

export function toWireDelivery(delivery: StoredDelivery) {
  return {
    id: delivery.id,
    userId: delivery.userId ?? '',
    channel: delivery.channel,
    endpoint: delivery.endpoint,
    tier: delivery.tier,
    status: delivery.status,
    attempts: delivery.attempts,
    lastError: delivery.lastError ?? '',
    createdAt: toTimestamp(delivery.createdAt),
    updatedAt: toTimestamp(delivery.updatedAt),
    deliveredAt: toOptionalTimestamp(delivery.deliveredAt),
    nextAttemptAt: toOptionalTimestamp(delivery.nextAttemptAt),
    expiresAt: toOptionalTimestamp(delivery.expiresAt),
  };
}

/** Counters as notify.v1.Stats; the click-through rate is clicks per delivered delivery. */
export function toWireStats(totals: DeliveryTotals) {
  return {
    requested: String(totals.requested),
    sent: String(totals.sent),
    delivered: String(totals.delivered),
    failed: String(totals.failed),
    dead: String(totals.dead),
    read: String(totals.read),
    clicked: String(totals.clicked),
    clickThroughRate: totals.delivered === 0 ? 0 : totals.clicked / totals.delivered,
  };
}

/**
 * The most a ListMessages answer may take, under the 4 MiB that grpc-js and most generated clients
 * accept by default: a message may carry 64 KiB of data and text rendered in several locales, so
 * even a page of 20 could be refused whole by the caller.
 */
export const MAX_PAGE_BYTES = 3 * 1024 * 1024;

/** Room for a field's tag and length, and for a submessage's own. */
const FIELD = 12;

/**
 * An upper bound on a message's size as notify.v1.Message: every string at 3 bytes per UTF-16 code
 * unit (the most UTF-8 takes), every field and submessage with room for its tag and length, every
 * number and time at its largest.
 */
export function wireBytesBound(message: StoredMessage): number {
  let bytes = 12 * FIELD + text(message.id) + text(message.requestId) + text(message.type) + text(message.locale) + text(message.priority);
  bytes += valueBytesBound(message.recipient) + valueBytesBound(message.data);
  for (const [locale, content] of Object.entries(message.contents)) bytes += 4 * FIELD + text(locale) + text(content.title) + text(content.body);
  for (const d of message.deliveries) {
    bytes += 14 * FIELD + text(d.id) + text(d.userId) + text(d.channel) + text(d.endpoint) + text(d.status) + text(d.lastError);
  }
  return bytes;
}

/** The same bound for a JSON value as google.protobuf.Value (objects as Struct, arrays as ListValue). */
function valueBytesBound(value: unknown): number {
  if (typeof value === 'string') return FIELD + text(value);
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + valueBytesBound(item), 2 * FIELD);
  if (value !== null && typeof value === 'object') {
    let bytes = 2 * FIELD;
    for (const [key, item] of Object.entries(value)) bytes += FIELD + text(key) + valueBytesBound(item);
    return bytes;
  }
  return FIELD; // a number (8 bytes), a boolean or null
}

function text(value: string | null): number {
  return value === null ? 0 : 3 * value.length;
}
