import type { DataSource, EntityManager } from 'typeorm';
import type { Channel, DeliveryJob, Priority } from '@notify/contracts';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, type DeliveryKey } from './delivery-keys';
import { queryRows } from './rows';

/** The columns a job is made of, from a delivery `d` and its message `m`. */
export const JOB_COLUMNS = `d.id, d.user_id, d.channel, d.endpoint, d.locale, d.attempts, d.expires_at, d.created_at,
            m.request_id, m.id AS message_id, m.type, m.data, m.priority,
            m.contents -> d.locale ->> 'title' AS title, m.contents -> d.locale ->> 'body' AS body, d.seq`;

export interface JobRow {
  id: string;
  user_id: string | null;
  channel: Channel;
  endpoint: string;
  locale: string;
  attempts: number;
  expires_at: Date | null;
  created_at: Date;
  request_id: string;
  message_id: string;
  type: string;
  data: Record<string, unknown>;
  priority: Priority;
  title: string | null;
  body: string | null;
  seq: string | null;
}

/** The channel jobs of the given deliveries, with their content in the delivery's locale and the inbox sequence number. */
export async function loadDeliveryJobs(db: DataSource | EntityManager, keys: DeliveryKey[]): Promise<DeliveryJob[]> {
  if (keys.length === 0) return [];
  const rows = await queryRows<JobRow>(
    db,
    `SELECT ${JOB_COLUMNS}
       FROM ${DELIVERY_KEYS}
       JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}
       JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at AND ${inKeysRange('m')}
      ORDER BY d.seq NULLS LAST, d.id`,
    deliveryKeys(keys),
  );
  return rows.map(toDeliveryJob);
}

/** A channel job from its row (JOB_COLUMNS): the next attempt of the delivery. */
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
