import type { Channel, PushProvider } from '@notify/contracts';
import type { DeliveryStats, DeliveryStatus, QueriedDelivery, QueriedMessage, RecipientRecord } from './query-types';
import { fromStruct, fromTimestamp, present, type WireStruct, type WireTimestamp } from './wire';

/** notify.v1 messages as decoded by @grpc/proto-loader (absent fields undefined, int64 as strings). */
export interface WireDelivery {
  id: string;
  userId?: string;
  channel: Channel;
  endpoint: string;
  tier?: number;
  status: DeliveryStatus;
  attempts?: number;
  lastError?: string;
  createdAt: WireTimestamp;
  updatedAt: WireTimestamp;
  deliveredAt?: WireTimestamp;
  nextAttemptAt?: WireTimestamp;
  expiresAt?: WireTimestamp;
}

export interface WireMessage {
  id: string;
  requestId: string;
  type: string;
  recipient?: WireStruct;
  data?: WireStruct;
  contents?: { locale: string; title?: string; body?: string }[];
  locale?: string;
  priority: QueriedMessage['priority'];
  sendAt?: WireTimestamp;
  expiresAt?: WireTimestamp;
  createdAt: WireTimestamp;
  deliveries?: WireDelivery[];
  nextDeliveriesPageToken?: string;
}

export type WireStats = Partial<Record<Exclude<keyof DeliveryStats, 'clickThroughRate'>, string>> & { clickThroughRate?: number };

export interface WireRecipient {
  userId: string;
  phone?: string;
  email?: string;
  locale?: string;
  timezone?: string;
  updatedAt?: WireTimestamp;
  devices?: { deviceId: string; provider: PushProvider; locale?: string; active?: boolean; deactivatedReason?: string; updatedAt: WireTimestamp }[];
  topics?: string[];
}

export function fromWireMessage(message: WireMessage): QueriedMessage {
  return {
    id: message.id,
    requestId: message.requestId,
    type: message.type,
    recipient: fromStruct(message.recipient),
    data: fromStruct(message.data),
    contents: (message.contents ?? []).map((c) => ({ locale: c.locale, title: c.title ?? '', body: c.body ?? '' })),
    locale: present(message.locale),
    priority: message.priority,
    sendAt: fromTimestamp(message.sendAt),
    expiresAt: fromTimestamp(message.expiresAt),
    createdAt: fromTimestamp(message.createdAt),
    deliveries: (message.deliveries ?? []).map(fromWireDelivery),
    nextDeliveriesPageToken: present(message.nextDeliveriesPageToken),
  };
}

export function fromWireDelivery(d: WireDelivery): QueriedDelivery {
  return {
    id: d.id,
    userId: present(d.userId),
    channel: d.channel,
    endpoint: d.endpoint,
    tier: d.tier ?? 0,
    status: d.status,
    attempts: d.attempts ?? 0,
    lastError: present(d.lastError),
    createdAt: fromTimestamp(d.createdAt),
    updatedAt: fromTimestamp(d.updatedAt),
    deliveredAt: fromTimestamp(d.deliveredAt),
    nextAttemptAt: fromTimestamp(d.nextAttemptAt),
    expiresAt: fromTimestamp(d.expiresAt),
  };
}

export function fromWireStats(stats: WireStats): DeliveryStats {
  const count = (value: string | undefined): number => Number(value ?? 0);
  return {
    requested: count(stats.requested),
    sent: count(stats.sent),
    delivered: count(stats.delivered),
    failed: count(stats.failed),
    dead: count(stats.dead),
    read: count(stats.read),
    clicked: count(stats.clicked),
    clickThroughRate: stats.clickThroughRate ?? 0,
  };
}

export function fromWireRecipient(recipient: WireRecipient): RecipientRecord {
  return {
    userId: recipient.userId,
    phone: present(recipient.phone),
    email: present(recipient.email),
    locale: present(recipient.locale),
    timezone: present(recipient.timezone),
    updatedAt: fromTimestamp(recipient.updatedAt),
    devices: (recipient.devices ?? []).map((d) => ({
      deviceId: d.deviceId,
      provider: d.provider,
      locale: present(d.locale),
      active: d.active ?? false,
      deactivatedReason: present(d.deactivatedReason),
      updatedAt: fromTimestamp(d.updatedAt),
    })),
    topics: recipient.topics ?? [],
  };
}
