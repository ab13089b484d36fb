import type { DataSource, EntityManager } from 'typeorm';
import type { Channel, DeliveryJob, RecipientSelector } from '@notify/contracts';
import { queryRows } from './rows';

/** A validated, routed request ready to be stored. */
export interface AcceptedMessage {
  requestId: string;
  type: string;
  recipient: RecipientSelector;
  title: string;
  body: string;
  data: Record<string, unknown>;
  locale: string | null;
  priority: string;
  sendAt: string | null;
  expiresAt: string | null;
  /** Users who get this message in their in-app inbox (and so a sequence number). */
  inboxUserIds: string[];
  deliveries: { userId: string | null; channel: Channel; endpoint: string }[];
}

interface StoredMessage {
  id: string;
  request_id: string;
}

interface QueuedDeliveryRow {
  delivery_id: string;
  user_id: string | null;
  channel: Channel;
  endpoint: string;
  attempts: number;
  request_id: string;
  message_id: string;
  type: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  created_at: Date;
  expires_at: Date | null;
  seq: string | null;
}

/**
 * Stores one consumed batch in one transaction with one multi-row insert per table.
 * Replays are harmless: a request id already stored inserts nothing, and its deliveries
 * that no channel has taken yet are returned again so a crash between commit and produce loses nothing.
 */
export class IngestStore {
  constructor(private readonly dataSource: DataSource) {}

  async ingest(batch: AcceptedMessage[]): Promise<DeliveryJob[]> {
    if (batch.length === 0) return [];
    return this.dataSource.transaction(async (tx) => {
      const stored = await insertMessages(tx, batch);
      const idByRequest = new Map(stored.map((row) => [row.request_id, row.id]));
      const fresh = batch.filter((m) => idByRequest.has(m.requestId));
      await insertInboxEntries(tx, fresh, idByRequest);
      await insertDeliveries(tx, fresh, idByRequest);
      return queuedDeliveries(tx, batch.map((m) => m.requestId));
    });
  }
}

async function insertMessages(tx: EntityManager, batch: AcceptedMessage[]): Promise<StoredMessage[]> {
  return queryRows<StoredMessage>(
    tx,
    `INSERT INTO messages (request_id, type, recipient, title, body, data, locale, priority, send_at, expires_at)
     SELECT r, t, rc::jsonb, ti, b, d::jsonb, l, p, sa, ea
       FROM unnest($1::varchar[], $2::varchar[], $3::text[], $4::text[], $5::text[], $6::text[],
                   $7::varchar[], $8::varchar[], $9::timestamptz[], $10::timestamptz[])
         AS x(r, t, rc, ti, b, d, l, p, sa, ea)
     ON CONFLICT (request_id) DO NOTHING
     RETURNING id, request_id`,
    [
      batch.map((m) => m.requestId),
      batch.map((m) => m.type),
      batch.map((m) => JSON.stringify(m.recipient)),
      batch.map((m) => m.title),
      batch.map((m) => m.body),
      batch.map((m) => JSON.stringify(m.data)),
      batch.map((m) => m.locale),
      batch.map((m) => m.priority),
      batch.map((m) => m.sendAt),
      batch.map((m) => m.expiresAt),
    ],
  );
}

/** Hands out gap-free sequence numbers: one upsert per batch, users in a fixed order so concurrent batches cannot deadlock. */
async function insertInboxEntries(tx: EntityManager, fresh: AcceptedMessage[], idByRequest: Map<string, string>): Promise<void> {
  const countByUser = new Map<string, number>();
  for (const message of fresh) {
    for (const userId of new Set(message.inboxUserIds)) countByUser.set(userId, (countByUser.get(userId) ?? 0) + 1);
  }
  if (countByUser.size === 0) return;
  const users = [...countByUser.keys()].sort();
  const allocated = await queryRows<{ user_id: string; last_seq: string }>(
    tx,
    `INSERT INTO inbox_sequences (user_id, last_seq)
     SELECT * FROM unnest($1::varchar[], $2::bigint[])
     ON CONFLICT (user_id) DO UPDATE SET last_seq = inbox_sequences.last_seq + EXCLUDED.last_seq
     RETURNING user_id, last_seq`,
    [users, users.map((u) => countByUser.get(u))],
  );
  const nextSeq = new Map(allocated.map((row) => [row.user_id, BigInt(row.last_seq) - BigInt(countByUser.get(row.user_id)!) + 1n]));
  const entries: { userId: string; seq: string; messageId: string }[] = [];
  for (const message of fresh) {
    for (const userId of new Set(message.inboxUserIds)) {
      const seq = nextSeq.get(userId)!;
      nextSeq.set(userId, seq + 1n);
      entries.push({ userId, seq: seq.toString(), messageId: idByRequest.get(message.requestId)! });
    }
  }
  await tx.query(
    `INSERT INTO inbox_entries (user_id, seq, message_id)
     SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::uuid[])`,
    [entries.map((e) => e.userId), entries.map((e) => e.seq), entries.map((e) => e.messageId)],
  );
}

async function insertDeliveries(tx: EntityManager, fresh: AcceptedMessage[], idByRequest: Map<string, string>): Promise<void> {
  const rows = fresh.flatMap((message) =>
    message.deliveries.map((d) => ({ ...d, messageId: idByRequest.get(message.requestId)! })),
  );
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO deliveries (message_id, user_id, channel, endpoint)
     SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[])
     ON CONFLICT ON CONSTRAINT uq_deliveries_target DO NOTHING`,
    [rows.map((r) => r.messageId), rows.map((r) => r.userId), rows.map((r) => r.channel), rows.map((r) => r.endpoint)],
  );
}

async function queuedDeliveries(tx: EntityManager, requestIds: string[]): Promise<DeliveryJob[]> {
  const rows = await queryRows<QueuedDeliveryRow>(
    tx,
    `SELECT d.id AS delivery_id, d.user_id, d.channel, d.endpoint, d.attempts,
            m.request_id, m.id AS message_id, m.type, m.title, m.body, m.data, m.created_at, m.expires_at,
            i.seq
       FROM messages m
       JOIN deliveries d ON d.message_id = m.id
       LEFT JOIN inbox_entries i ON i.message_id = m.id AND i.user_id = d.user_id
      WHERE m.request_id = ANY($1::varchar[]) AND d.status = 'queued'
      ORDER BY i.seq NULLS LAST`,
    [requestIds],
  );
  return rows.map((row) => ({
    deliveryId: row.delivery_id,
    requestId: row.request_id,
    userId: row.user_id,
    channel: row.channel,
    endpoint: row.endpoint,
    attempt: row.attempts + 1,
    expiresAt: row.expires_at ? row.expires_at.toISOString() : null,
    message: {
      id: row.message_id,
      seq: row.seq === null ? null : Number(row.seq),
      type: row.type,
      title: row.title,
      body: row.body,
      data: row.data,
      createdAt: row.created_at.toISOString(),
    },
  }));
}
