import type { DataSource, EntityManager } from 'typeorm';
import type { Channel, DeliveryJob, Priority } from '@notify/contracts';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, type DeliveryKey } from './delivery-keys';
import { queryRows } from './rows';

/** A delivery's own columns a job is made of (`d`); its message's are read once per message (`withMessages`). */
export const DELIVERY_JOB_COLUMNS = `d.id, d.user_id, d.channel, d.endpoint, d.locale, d.attempts, d.expires_at, d.created_at, d.message_id, d.seq`;

/** A job's columns from a delivery `d` and its message `m` in one statement (the resend poller's claim). */
export const JOB_COLUMNS = `${DELIVERY_JOB_COLUMNS}, m.request_id, m.type, m.data, m.priority,
            m.contents -> d.locale ->> 'title' AS title, m.contents -> d.locale ->> 'body' AS body`;

/** A delivery's row as DELIVERY_JOB_COLUMNS reads it. */
export interface DeliveryJobRow {
  id: string;
  user_id: string | null;
  channel: Channel;
  endpoint: string;
  locale: string;
  attempts: number;
  expires_at: Date | null;
  created_at: Date;
  message_id: string;
  seq: string | null;
}

/** A job's row: the delivery's columns and its message's. */
export interface JobRow extends DeliveryJobRow {
  request_id: string;
  type: string;
  data: Record<string, unknown>;
  priority: Priority;
  title: string | null;
  body: string | null;
}

interface MessageRow {
  id: string;
  request_id: string;
  type: string;
  data: Record<string, unknown>;
  priority: Priority;
  contents: Record<string, { title: string; body: string } | undefined>;
}

/** The channel jobs of the given deliveries, with their content in the delivery's locale and the inbox sequence number. */
export async function loadDeliveryJobs(db: DataSource | EntityManager, keys: DeliveryKey[]): Promise<DeliveryJob[]> {
  if (keys.length === 0) return [];
  const deliveries = await queryRows<DeliveryJobRow>(
    db,
    `SELECT ${DELIVERY_JOB_COLUMNS}
       FROM ${DELIVERY_KEYS}
       JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}
      ORDER BY d.seq NULLS LAST, d.id`,
    deliveryKeys(keys),
  );
  return withMessages(db, deliveries);
}

/**
 * The jobs of delivery rows, in their order. Each message is read once and its jobs share its `data`
 * and texts, as the ingest's own jobs do: read with every delivery, a replayed batch of broadcasts
 * (15,000 deliveries of messages with 60 KB of data) parsed a copy per delivery, about 900 MB, and
 * ran out of memory again at every restart. A delivery whose message is gone has no job.
 */
export async function withMessages(db: DataSource | EntityManager, deliveries: DeliveryJobRow[]): Promise<DeliveryJob[]> {
  if (deliveries.length === 0) return [];
  const messageKeys = new Map(deliveries.map((d) => [d.message_id, { id: d.message_id, createdAt: d.created_at }]));
  const messages = await queryRows<MessageRow>(
    db,
    `SELECT m.id, m.request_id, m.type, m.data, m.priority, m.contents
       FROM ${DELIVERY_KEYS}
       JOIN messages m ON m.id = k.id AND m.created_at = k.created_at AND ${inKeysRange('m')}`,
    deliveryKeys([...messageKeys.values()]),
  );
  const byId = new Map(messages.map((m) => [m.id, m]));
  return deliveries.flatMap((d) => {
    const m = byId.get(d.message_id);
    if (!m) return [];
    const content = m.contents[d.locale];
    return [toDeliveryJob({ ...d, request_id: m.request_id, type: m.type, data: m.data, priority: m.priority, title: content?.title ?? null, body: content?.body ?? null })];
  });
}

/** A channel job from its row: the next attempt of the delivery. */
export function toDeliveryJob(row: JobRow): DeliveryJob {
  return {
    deliveryId: row.id,
    requestId: row.request_id,
    userId: row.user_id,
    channel: row.channel,
    endpoint: row.endpoint,
    attempt: row.attempts + 1,
    expiresAt: row.expires_at ? row.expires_at.toISOString() : null,
    priority: row.priority,
    locale: row.locale,
    message: {
      id: row.message_id,
      seq: row.seq === null ? null : Number(row.seq),
      type: row.type,
      title: row.title ?? '',
      body: row.body ?? '',
      data: row.data,
      createdAt: row.created_at.toISOString(),
    },
  };
}
