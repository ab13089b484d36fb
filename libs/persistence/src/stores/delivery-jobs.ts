import type { DataSource, EntityManager } from 'typeorm';
import type { Channel, DeliveryJob, Priority } from '@notify/contracts';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, type DeliveryKey } from './delivery-keys';
import { queryRows } from './rows';

/** A message's `url` when it has one: absent, not undefined or null, in the JSON it travels as. */
export function withUrl(url: string | null | undefined): { url?: string } {
  return url ? { url } : {};
}

/** An email job's topic, when its message went to one (`to.topic`): its mail offers a one-click unsubscribe (contract §6). Absent otherwise. */
export function withTopic(topic: string | null | undefined): { topic?: string } {
  return topic ? { topic } : {};
}

/**
 * The inbox number of a delivery `d`'s message for its user: its own, or, for another channel's
 * delivery, its browser delivery's. A push carries it (`seq` in the app's data) on every attempt, as
 * the job the message center first produced did, not only on that one. For statements over keys
 * (`deliveryKeys`): the browser delivery is in the keys' range of weeks, as `d` is.
 */
const INBOX_NUMBER = `COALESCE(d.seq, (SELECT w.seq FROM deliveries w
                                 WHERE w.message_id = d.message_id AND w.channel = 'websocket' AND w.user_id = d.user_id
                                   AND w.created_at = d.created_at AND ${inKeysRange('w')} AND w.seq IS NOT NULL LIMIT 1)) AS seq`;

/** The columns a job is made of, from a delivery `d` and its message `m`, in a statement over keys (`deliveryKeys`). */
export const JOB_COLUMNS = `d.id, d.user_id, d.channel, d.endpoint, d.locale, d.attempts, d.expires_at, d.created_at, d.message_id, ${INBOX_NUMBER},
            m.request_id, m.type, m.data, m.priority,
            m.contents -> d.locale ->> 'title' AS title, m.contents -> d.locale ->> 'body' AS body, m.contents -> d.locale ->> 'url' AS url,
            CASE WHEN d.channel = 'email' THEN m.recipient ->> 'topic' END AS topic`;

/**
 * The same columns, by name, over rows of JOB_COLUMNS, with each message's `data` on its first row
 * only (`sharingData` gives it to the others). A message's data is up to 64 KiB: read with every
 * delivery, a replayed batch of broadcasts (15,000 deliveries of messages with 60 KB of data) parsed
 * a copy per delivery, about 900 MB, and ran out of memory again at every restart. Read by a second
 * query instead, once per message, it cost the resend claim 12–14 µs per message more (docs/benchmarks.md).
 */
export const JOB_COLUMNS_DATA_ONCE = `id, user_id, channel, endpoint, locale, attempts, expires_at, created_at, message_id, seq,
            request_id, type, priority, title, body, url, topic, CASE WHEN row_number() OVER (PARTITION BY message_id ORDER BY id) = 1 THEN data END AS data`;

export interface JobRow {
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
  request_id: string;
  type: string;
  data: Record<string, unknown>;
  priority: Priority;
  title: string | null;
  body: string | null;
  url: string | null;
  /** The message's `to.topic`, read for an email delivery only. */
  topic: string | null;
}

/** A row read through JOB_COLUMNS_DATA_ONCE: `data` only on its message's first row. */
export type JobRowDataOnce = Omit<JobRow, 'data'> & { data: JobRow['data'] | null };

/** The rows with each message's data, one object shared by all the rows of that message. */
export function sharingData<R extends JobRowDataOnce>(rows: R[]): (Omit<R, 'data'> & Pick<JobRow, 'data'>)[] {
  const dataOf = new Map<string, JobRow['data']>();
  for (const row of rows) if (row.data !== null) dataOf.set(row.message_id, row.data);
  return rows.map((row) => ({ ...row, data: dataOf.get(row.message_id) ?? {} }));
}

/** The channel jobs of the given deliveries, with their content in the delivery's locale and the inbox sequence number. */
export async function loadDeliveryJobs(db: DataSource | EntityManager, keys: DeliveryKey[]): Promise<DeliveryJob[]> {
  if (keys.length === 0) return [];
  const rows = await queryRows<JobRowDataOnce>(
    db,
    `SELECT ${JOB_COLUMNS_DATA_ONCE}
       FROM (SELECT ${JOB_COLUMNS}
               FROM ${DELIVERY_KEYS}
               JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}
               JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at AND ${inKeysRange('m')}) AS j
      ORDER BY seq NULLS LAST, id`,
    deliveryKeys(keys),
  );
  return sharingData(rows).map(toDeliveryJob);
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
      ...withUrl(row.url),
      ...withTopic(row.topic),
      createdAt: row.created_at.toISOString(),
    },
  };
}
