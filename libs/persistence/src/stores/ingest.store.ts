import type { DataSource, EntityManager } from 'typeorm';
import type { Channel, DeliveryJob, OutcomeEvent, Priority, RecipientSelector } from '@notify/contracts';
import type { RetryPolicy } from '../entities/message.entity';
import { loadDeliveryJobs, type DeliveryKey } from './delivery-jobs';
import { inboxKey, placeInInboxes } from './inbox-allocation';
import { queryRows } from './rows';

/** A delivery as the router planned it. */
export interface PlannedDelivery {
  id: string;
  userId: string | null;
  channel: Channel;
  endpoint: string;
  locale: string;
  tier: number;
  /** `queued` goes out now; `held` waits for `nextAttemptAt` or the failure of the tier before it. */
  status: 'queued' | 'held' | 'dead' | 'expired';
  lastError: string | null;
  nextAttemptAt: Date | null;
}

/** A validated, routed, rendered request ready to be stored. Its id carries `createdAt` (see `newId`). */
export interface PlannedMessage {
  id: string;
  requestId: string;
  type: string;
  recipient: RecipientSelector;
  data: Record<string, unknown>;
  locale: string | null;
  priority: Priority;
  retry: RetryPolicy;
  sendAt: Date | null;
  expiresAt: Date | null;
  createdAt: Date;
  contents: { locale: string; title: string; body: string }[];
  deliveries: PlannedDelivery[];
  /** Users whose in-app inbox gets the message now (its websocket delivery is queued now). */
  inbox: { userId: string; locale: string }[];
}

export interface IngestResult {
  /** Deliveries to hand to their channels: this batch's new ones and, on a replay, any still queued. */
  jobs: DeliveryJob[];
  /** Outcomes decided while routing (no endpoint, already expired), to publish on notify.events. */
  events: OutcomeEvent[];
  /** How many of the batch's requests were new. */
  stored: number;
}

/**
 * Stores one consumed batch in one transaction, one multi-row insert per table. A request id seen
 * before inserts nothing; its deliveries that are still queued are returned again, so a crash
 * between the commit and the produce loses nothing.
 */
export class IngestStore {
  constructor(private readonly dataSource: DataSource) {}

  async ingest(batch: PlannedMessage[]): Promise<IngestResult> {
    if (batch.length === 0) return { jobs: [], events: [], stored: 0 };
    return this.dataSource.transaction(async (tx) => {
      const fresh = await claimRequestIds(tx, batch);
      await insertMessages(tx, fresh);
      const seqs = await placeInInboxes(
        tx,
        fresh.flatMap((m) => m.inbox.map((entry) => ({ ...entry, messageId: m.id, messageCreatedAt: m.createdAt }))),
      );
      await insertDeliveries(tx, fresh, seqs);
      const freshIds = new Set(fresh.map((m) => m.requestId));
      const replayed = batch.filter((m) => !freshIds.has(m.requestId)).map((m) => m.requestId);
      const replayedJobs = replayed.length > 0 ? await loadDeliveryJobs(tx, await queuedDeliveries(tx, replayed)) : [];
      return { jobs: [...freshJobs(fresh, seqs), ...replayedJobs], events: decidedOutcomes(fresh), stored: fresh.length };
    });
  }
}

async function claimRequestIds(tx: EntityManager, batch: PlannedMessage[]): Promise<PlannedMessage[]> {
  const claimed = await queryRows<{ request_id: string }>(
    tx,
    `INSERT INTO request_keys (request_id, message_id, created_at)
     SELECT * FROM unnest($1::varchar[], $2::uuid[], $3::timestamptz[])
     ON CONFLICT (request_id) DO NOTHING
     RETURNING request_id`,
    [batch.map((m) => m.requestId), batch.map((m) => m.id), batch.map((m) => m.createdAt)],
  );
  const fresh = new Set(claimed.map((row) => row.request_id));
  return batch.filter((m) => fresh.has(m.requestId));
}

async function insertMessages(tx: EntityManager, fresh: PlannedMessage[]): Promise<void> {
  if (fresh.length === 0) return;
  await tx.query(
    `INSERT INTO messages (id, request_id, type, recipient, data, contents, locale, priority, retry, send_at, expires_at, created_at)
     SELECT i, r, t, rc::jsonb, d::jsonb, c::jsonb, l, p, rt::jsonb, sa, ea, ca
       FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::text[], $5::text[], $6::text[], $7::varchar[],
                   $8::varchar[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[])
         AS x(i, r, t, rc, d, c, l, p, rt, sa, ea, ca)`,
    [
      fresh.map((m) => m.id),
      fresh.map((m) => m.requestId),
      fresh.map((m) => m.type),
      fresh.map((m) => JSON.stringify(m.recipient)),
      fresh.map((m) => JSON.stringify(m.data)),
      fresh.map((m) => JSON.stringify(Object.fromEntries(m.contents.map(({ locale, title, body }) => [locale, { title, body }])))),
      fresh.map((m) => m.locale),
      fresh.map((m) => m.priority),
      fresh.map((m) => JSON.stringify(m.retry)),
      fresh.map((m) => m.sendAt),
      fresh.map((m) => m.expiresAt),
      fresh.map((m) => m.createdAt),
    ],
  );
}


async function insertDeliveries(tx: EntityManager, fresh: PlannedMessage[], seqs: Map<string, number>): Promise<void> {
  const rows = fresh.flatMap((m) =>
    m.deliveries.map((d) => ({
      ...d,
      messageId: m.id,
      createdAt: m.createdAt,
      expiresAt: m.expiresAt,
      seq: d.channel === 'websocket' && d.userId !== null ? (seqs.get(inboxKey(d.userId, m.id)) ?? null) : null,
    })),
  );
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, tier, status, last_error, next_attempt_at, expires_at, created_at, seq)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::smallint[],
                          $8::varchar[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::bigint[])
     ON CONFLICT ON CONSTRAINT uq_deliveries_target DO NOTHING`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.messageId),
      rows.map((r) => r.userId),
      rows.map((r) => r.channel),
      rows.map((r) => r.endpoint),
      rows.map((r) => r.locale),
      rows.map((r) => r.tier),
      rows.map((r) => r.status),
      rows.map((r) => r.lastError),
      rows.map((r) => r.nextAttemptAt),
      rows.map((r) => r.expiresAt),
      rows.map((r) => r.createdAt),
      rows.map((r) => r.seq),
    ],
  );
}

async function queuedDeliveries(tx: EntityManager, requestIds: string[]): Promise<DeliveryKey[]> {
  const rows = await queryRows<{ id: string; created_at: Date }>(
    tx,
    `SELECT d.id, d.created_at
       FROM request_keys k
       JOIN deliveries d ON d.message_id = k.message_id AND d.created_at = k.created_at
      WHERE k.request_id = ANY($1::varchar[]) AND d.status = 'queued'`,
    [requestIds],
  );
  return rows.map((row) => ({ id: row.id, createdAt: row.created_at }));
}

/** The jobs of this batch's new queued deliveries, built from what was just written rather than read back. */
function freshJobs(fresh: PlannedMessage[], seqs: Map<string, number>): DeliveryJob[] {
  return fresh.flatMap((m) => {
    const content = new Map(m.contents.map((c) => [c.locale, c]));
    return m.deliveries
      .filter((d) => d.status === 'queued')
      .map((d) => ({
        deliveryId: d.id,
        requestId: m.requestId,
        userId: d.userId,
        channel: d.channel,
        endpoint: d.endpoint,
        attempt: 1,
        expiresAt: m.expiresAt ? m.expiresAt.toISOString() : null,
        priority: m.priority,
        locale: d.locale,
        message: {
          id: m.id,
          seq: d.userId === null ? null : (seqs.get(inboxKey(d.userId, m.id)) ?? null),
          type: m.type,
          title: content.get(d.locale)?.title ?? '',
          body: content.get(d.locale)?.body ?? '',
          data: m.data,
          createdAt: m.createdAt.toISOString(),
        },
      }));
  });
}

function decidedOutcomes(fresh: PlannedMessage[]): OutcomeEvent[] {
  return fresh.flatMap((m) =>
    m.deliveries
      .filter((d) => d.status === 'dead' || d.status === 'expired')
      .map((d) => ({
        requestId: m.requestId,
        messageId: m.id,
        userId: d.userId,
        channel: d.channel,
        status: d.status as 'dead' | 'expired',
        attempt: 0,
        at: m.createdAt.toISOString(),
        error: d.lastError,
        deliveryId: d.id,
      })),
  );
}
