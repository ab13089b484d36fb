import type { DataSource } from 'typeorm';
import type { DeliveryState } from '../entities/delivery.entity';
import { queryPrepared } from './prepared-statements';

export interface StoredDelivery {
  id: string;
  userId: string | null;
  channel: string;
  endpoint: string;
  tier: number;
  status: DeliveryState;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
  nextAttemptAt: Date | null;
  expiresAt: Date | null;
}

/** The most deliveries a message is read with; the rest are read a page at a time (`listDeliveries`). */
export const MESSAGE_DELIVERIES_LIMIT = 1_000;

export interface StoredMessage {
  id: string;
  requestId: string;
  type: string;
  recipient: Record<string, unknown>;
  data: Record<string, unknown>;
  contents: Record<string, { title: string; body: string }>;
  locale: string | null;
  priority: string;
  sendAt: Date | null;
  expiresAt: Date | null;
  createdAt: Date;
  deliveries: StoredDelivery[];
  /** Set when the message has more deliveries than it was read with: the last one read, to go on from. */
  moreDeliveriesAfter?: string;
}

export interface DeliveryPage {
  deliveries: StoredDelivery[];
  /** Set when more deliveries follow: the last one of this page. */
  next?: string;
}

export interface MessageListFilter {
  userId: string;
  /** Messages with a delivery to the user in this status. */
  status?: DeliveryState;
  type?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

/** Where a page ended: the last message's creation time to the microsecond (ISO 8601, UTC) and id. */
export interface MessagePosition {
  createdAt: string;
  id: string;
}

export interface MessagePage {
  messages: StoredMessage[];
  /** Each message's place, to end a page early after it. */
  positions: MessagePosition[];
  /** Set when more messages follow. */
  next?: MessagePosition;
}

interface MessageRow {
  id: string;
  request_id: string;
  type: string;
  recipient: Record<string, unknown>;
  data: Record<string, unknown>;
  contents: Record<string, { title: string; body: string }>;
  locale: string | null;
  priority: string;
  send_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
  position_at: string;
  deliveries: JsonDelivery[];
}

type JsonDelivery = Omit<StoredDelivery, 'createdAt' | 'updatedAt' | 'deliveredAt' | 'nextAttemptAt' | 'expiresAt'> & {
  createdAt: string;
  updatedAt: string;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
  expiresAt: string | null;
};

const MESSAGE_COLUMNS = `m.id, m.request_id, m.type, m.recipient, m.data, m.contents, m.locale, m.priority, m.send_at, m.expires_at, m.created_at,
       to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position_at`;

/**
 * A message's deliveries in their order: that of the unique index (message_id, channel, endpoint,
 * user_id), so a page of a message with a million deliveries is read from the index, not sorted.
 * The index's own order exactly (NULLS LAST): with `NULLS FIRST` every page sorted all of the
 * message's deliveries (300 ms for 300,000 of them, 0.3 ms read from the index).
 */
const DELIVERY_ORDER = 'd.channel, d.endpoint, d.user_id';

/** Deliveries `d` as one JSON array, in their order. */
const DELIVERIES_JSON = `json_agg(json_build_object(
                  'id', d.id, 'userId', d.user_id, 'channel', d.channel, 'endpoint', d.endpoint, 'tier', d.tier,
                  'status', d.status, 'attempts', d.attempts, 'lastError', d.last_error, 'createdAt', d.created_at,
                  'updatedAt', d.updated_at, 'deliveredAt', d.delivered_at, 'nextAttemptAt', d.next_attempt_at,
                  'expiresAt', d.expires_at)
                ORDER BY ${DELIVERY_ORDER})`;

/** One user's deliveries of the message as one JSON array (one round trip per call). */
function deliveriesOf(userParam: string): string {
  return `COALESCE((
         SELECT ${DELIVERIES_JSON}
           FROM deliveries d
          WHERE d.message_id = m.id AND d.created_at = m.created_at AND d.user_id = ${userParam}), '[]') AS deliveries`;
}

/**
 * Up to `limitParam` of the message's deliveries as one JSON array, after the delivery `afterParam`
 * names (in their order) when given. A delivery without a user (to a bare number or address) comes
 * after the users' deliveries to the same endpoint, as NULL does in the index.
 */
function deliveryPageOf(limitParam: string, afterParam?: string): string {
  // Where the last page ended: the delivery's own columns, read by its key.
  const position = (columns: string) => `(SELECT ${columns} FROM deliveries a WHERE a.id = ${afterParam} AND a.created_at = m.created_at AND a.message_id = m.id)`;
  // The first condition is the index range; the second settles the user within the last endpoint
  // (after a user's delivery: a later user, or none; after one without a user: nothing more there).
  const after = afterParam
    ? `AND (d.channel, d.endpoint) >= ${position('a.channel, a.endpoint')}
            AND ((d.channel, d.endpoint) > ${position('a.channel, a.endpoint')}
                 OR d.user_id > ${position('a.user_id')}
                 OR (d.user_id IS NULL AND ${position('a.user_id')} IS NOT NULL))`
    : '';
  return `COALESCE((
         SELECT ${DELIVERIES_JSON}
           FROM (SELECT * FROM deliveries d
                  WHERE d.message_id = m.id AND d.created_at = m.created_at ${after}
                  ORDER BY ${DELIVERY_ORDER}
                  LIMIT ${limitParam}) AS d), '[]') AS deliveries`;
}

/**
 * Reads messages with their deliveries. Every lookup names the partition: by id through the time
 * the id carries, by request id through `request_keys`, by user through the deliveries index
 * (user_id, created_at) with a keyset (created_at, id) — never an OFFSET.
 */
export class MessageQueryStore {
  constructor(private readonly dataSource: DataSource) {}

  /** The message with its first MESSAGE_DELIVERIES_LIMIT deliveries. */
  async get(id: string, createdAt: Date): Promise<StoredMessage | undefined> {
    const [row] = await queryPrepared<MessageRow>(
      this.dataSource,
      `SELECT ${MESSAGE_COLUMNS}, ${deliveryPageOf('$3')} FROM messages m WHERE m.id = $1 AND m.created_at = $2`,
      [id, createdAt, MESSAGE_DELIVERIES_LIMIT + 1],
    );
    return row ? withFirstDeliveries(row) : undefined;
  }

  async getByRequestId(requestId: string): Promise<StoredMessage | undefined> {
    const [row] = await queryPrepared<MessageRow>(
      this.dataSource,
      `SELECT ${MESSAGE_COLUMNS}, ${deliveryPageOf('$2')}
         FROM request_keys k
         CROSS JOIN LATERAL (SELECT * FROM messages x WHERE x.id = k.message_id AND x.created_at = k.created_at LIMIT 1) AS m
        WHERE k.request_id = $1`,
      [requestId, MESSAGE_DELIVERIES_LIMIT + 1],
    );
    return row ? withFirstDeliveries(row) : undefined;
  }

  /** A page of the message's deliveries after the delivery `after`; undefined when no such message is kept. */
  async listDeliveries(messageId: string, createdAt: Date, after: string | undefined, limit: number): Promise<DeliveryPage | undefined> {
    const [row] = await queryPrepared<{ deliveries: JsonDelivery[] }>(
      this.dataSource,
      `SELECT ${deliveryPageOf('$3', after ? '$4' : undefined)} FROM messages m WHERE m.id = $1 AND m.created_at = $2`,
      after ? [messageId, createdAt, limit + 1, after] : [messageId, createdAt, limit + 1],
    );
    if (!row) return undefined;
    const deliveries = row.deliveries.slice(0, limit).map(toDelivery);
    return { deliveries, next: row.deliveries.length > limit ? deliveries[deliveries.length - 1]?.id : undefined };
  }

  /** One page of a user's messages, newest first, each with that user's deliveries only. */
  async listForUser(filter: MessageListFilter, after: MessagePosition | undefined, limit: number): Promise<MessagePage> {
    const params: unknown[] = [filter.userId];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const conditions = ['d.user_id = $1'];
    if (filter.status) conditions.push(`d.status = ${param(filter.status)}`);
    if (filter.since) conditions.push(`d.created_at >= ${param(filter.since)}`);
    if (filter.until) conditions.push(`d.created_at < ${param(filter.until)}`);
    if (after) conditions.push(`(d.created_at, d.message_id) < (${param(after.createdAt)}::timestamptz, ${param(after.id)}::uuid)`);
    // A LATERAL with LIMIT stays a probe per candidate row; a plain join could become a scan of every message of the type.
    const ofType = filter.type
      ? `CROSS JOIN LATERAL (SELECT 1 FROM messages t WHERE t.id = d.message_id AND t.created_at = d.created_at AND t.type = ${param(filter.type)} LIMIT 1) AS t`
      : '';
    // Without a status filter the page's rows are all of the user's deliveries of those messages, so they
    // are aggregated as the page is read; with one, the user's other deliveries of the message are fetched.
    const rows = await queryPrepared<MessageRow>(
      this.dataSource,
      `WITH page AS (
         SELECT d.created_at, d.message_id${filter.status ? '' : `, ${DELIVERIES_JSON} AS deliveries`}
           FROM deliveries d ${ofType}
          WHERE ${conditions.join(' AND ')}
          GROUP BY d.created_at, d.message_id
          ORDER BY d.created_at DESC, d.message_id DESC
          LIMIT ${param(limit + 1)})
       SELECT ${MESSAGE_COLUMNS}, ${filter.status ? deliveriesOf('$1') : 'p.deliveries'}
         FROM page p
         CROSS JOIN LATERAL (SELECT * FROM messages x WHERE x.id = p.message_id AND x.created_at = p.created_at LIMIT 1) AS m
        ORDER BY p.created_at DESC, p.message_id DESC`,
      params,
    );
    const positions = rows.slice(0, limit).map((row) => ({ createdAt: row.position_at, id: row.id }));
    return {
      messages: rows.slice(0, limit).map(toMessage),
      positions,
      next: rows.length > limit ? positions[positions.length - 1] : undefined,
    };
  }
}

/** A message read with one delivery more than it gives, which tells whether more follow. */
function withFirstDeliveries(row: MessageRow): StoredMessage {
  if (row.deliveries.length <= MESSAGE_DELIVERIES_LIMIT) return toMessage(row);
  const message = toMessage({ ...row, deliveries: row.deliveries.slice(0, MESSAGE_DELIVERIES_LIMIT) });
  return { ...message, moreDeliveriesAfter: message.deliveries[MESSAGE_DELIVERIES_LIMIT - 1]!.id };
}

function toMessage(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    requestId: row.request_id,
    type: row.type,
    recipient: row.recipient,
    data: row.data,
    contents: row.contents,
    locale: row.locale,
    priority: row.priority,
    sendAt: row.send_at,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    deliveries: row.deliveries.map(toDelivery),
  };
}

function toDelivery(d: JsonDelivery): StoredDelivery {
  return {
    ...d,
    createdAt: new Date(d.createdAt),
    updatedAt: new Date(d.updatedAt),
    deliveredAt: optionalDate(d.deliveredAt),
    nextAttemptAt: optionalDate(d.nextAttemptAt),
    expiresAt: optionalDate(d.expiresAt),
  };
}

function optionalDate(value: string | null): Date | null {
  return value === null ? null : new Date(value);
}
