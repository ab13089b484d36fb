import type { Channel, PushProvider } from '@notify/contracts';

/** The statuses a delivery can have (contract section 3, plus the platform's held/queued/cancelled). */
export type DeliveryStatus = 'held' | 'queued' | 'cancelled' | 'sent' | 'delivered' | 'failed' | 'dead' | 'expired' | 'read' | 'clicked';

export interface QueriedDelivery {
  id: string;
  userId?: string;
  channel: Channel;
  endpoint: string;
  tier: number;
  status: DeliveryStatus;
  attempts: number;
  lastError?: string;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt?: Date;
  nextAttemptAt?: Date;
  expiresAt?: Date;
}

export interface QueriedMessage {
  id: string;
  requestId: string;
  type: string;
  recipient: Record<string, unknown>;
  data: Record<string, unknown>;
  contents: { locale: string; title: string; body: string }[];
  locale?: string;
  priority: 'high' | 'normal' | 'low';
  sendAt?: Date;
  expiresAt?: Date;
  createdAt: Date;
  /** By channel, endpoint and user: at most 1,000 from getMessage, only the user's from listMessages. */
  deliveries: QueriedDelivery[];
  /** Set when the message has more deliveries than it came with: `allDeliveries` or `listDeliveries` read the rest. */
  nextDeliveriesPageToken?: string;
}

export interface ListMessagesQuery {
  userId: string;
  status?: DeliveryStatus;
  type?: string;
  since?: Date;
  until?: Date;
  /** The most the page holds, 1 to 200 (the server's default is 20); a page of large messages holds fewer. */
  pageSize?: number;
  pageToken?: string;
}

export interface MessagePage {
  messages: QueriedMessage[];
  /** Absent on the last page. */
  nextPageToken?: string;
}

export interface ListDeliveriesQuery {
  messageId: string;
  /** 1 to 1000; the server's default is 100. */
  pageSize?: number;
  /** A page's `nextPageToken`, or a message's `nextDeliveriesPageToken`. */
  pageToken?: string;
}

export interface DeliveryPage {
  deliveries: QueriedDelivery[];
  /** Absent on the last page. */
  nextPageToken?: string;
}

export interface StatsQuery {
  type?: string;
  requestId?: string;
  since?: Date;
  until?: Date;
}

export interface DeliveryStats {
  requested: number;
  sent: number;
  delivered: number;
  failed: number;
  dead: number;
  read: number;
  clicked: number;
  clickThroughRate: number;
}

export interface RegisteredDevice {
  deviceId: string;
  provider: PushProvider;
  locale?: string;
  active: boolean;
  deactivatedReason?: string;
  updatedAt: Date;
}

export interface RecipientRecord {
  userId: string;
  phone?: string;
  email?: string;
  locale?: string;
  timezone?: string;
  updatedAt?: Date;
  devices: RegisteredDevice[];
  topics: string[];
}
