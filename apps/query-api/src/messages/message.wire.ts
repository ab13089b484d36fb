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
