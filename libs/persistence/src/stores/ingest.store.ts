import type { DataSource, EntityManager } from 'typeorm';
import { ErrorCode, type Channel, type DeliveryJob, type OutcomeEvent, type Priority, type RecipientSelector } from '@notify/contracts';
import type { RetryPolicy } from '../entities/message.entity';
import { loadDeliveryJobs, withUrl } from './delivery-jobs';
import type { DeliveryKey } from './delivery-keys';
import { inboxKey, placeInInboxes } from './inbox-allocation';
import { inSlices, insertJsonRows, jsonRows, queryRows, type JsonColumn } from './rows';

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
  contents: { locale: string; title: string; body: string; url?: string }[];
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
      const again = await handedOutAgain(tx, replayed);
      return { jobs: [...freshJobs(fresh, seqs), ...again.jobs], events: [...decidedOutcomes(fresh), ...again.events], stored: fresh.length };
    });
  }

  /**
   * For request ids refused this time: those stored before, and what their first pass may not have
   * got out (as for a replay in `ingest`). A request stored once stays the request, whatever its
   * later copies say.
   */
  async replayOf(requestIds: string[]): Promise<{ requestIds: string[]; jobs: DeliveryJob[]; events: OutcomeEvent[] }> {
    if (requestIds.length === 0) return { requestIds: [], jobs: [], events: [] };
    return this.dataSource.transaction(async (tx) => {
      const stored = await queryRows<{ request_id: string }>(tx, `SELECT request_id FROM request_keys WHERE request_id = ANY($1::varchar[])`, [requestIds]);
      const ids = stored.map((row) => row.request_id);
      return { requestIds: ids, ...(await handedOutAgain(tx, ids)) };
    });
  }
}

const REQUEST_KEY_COLUMNS = [
  ['request_id', 'varchar'],
  ['message_id', 'uuid'],
  ['created_at', 'timestamptz'],
] as const satisfies readonly JsonColumn[];

async function claimRequestIds(tx: EntityManager, batch: PlannedMessage[]): Promise<PlannedMessage[]> {
  const claimed = await queryRows<{ request_id: string }>(
    tx,
    `${insertJsonRows('request_keys', REQUEST_KEY_COLUMNS)}
     ON CONFLICT (request_id) DO NOTHING
     RETURNING request_id`,
    [jsonRows(batch.map((m) => [m.requestId, m.id, m.createdAt]))],
  );
  const fresh = new Set(claimed.map((row) => row.request_id));
  return batch.filter((m) => fresh.has(m.requestId));
}

const MESSAGE_COLUMNS = [
  ['id', 'uuid'],
  ['request_id', 'varchar'],
  ['type', 'varchar'],
  ['recipient', 'jsonb'],
  ['data', 'jsonb'],
  ['contents', 'jsonb'],
  ['locale', 'varchar'],
  ['priority', 'varchar'],
  ['retry', 'jsonb'],
  ['send_at', 'timestamptz'],
  ['expires_at', 'timestamptz'],
  ['created_at', 'timestamptz'],
] as const satisfies readonly JsonColumn[];

async function insertMessages(tx: EntityManager, fresh: PlannedMessage[]): Promise<void> {
  if (fresh.length === 0) return;
  const rows = fresh.map((m) => [
    m.id,
    m.requestId,
    m.type,
    m.recipient,
    m.data,
    Object.fromEntries(m.contents.map(({ locale, ...text }) => [locale, text])),
    m.locale,
    m.priority,
    m.retry,
    m.sendAt,
    m.expiresAt,
    m.createdAt,
  ]);
  await tx.query(insertJsonRows('messages', MESSAGE_COLUMNS), [jsonRows(rows)]);
}

const DELIVERY_COLUMNS = [
  ['id', 'uuid'],
  ['message_id', 'uuid'],
  ['user_id', 'varchar'],
  ['channel', 'varchar'],
  ['endpoint', 'varchar'],
  ['locale', 'varchar'],
  ['tier', 'smallint'],
  ['status', 'varchar'],
  ['last_error', 'text'],
  ['next_attempt_at', 'timestamptz'],
  ['expires_at', 'timestamptz'],
  ['created_at', 'timestamptz'],
  ['seq', 'bigint'],
] as const satisfies readonly JsonColumn[];

async function insertDeliveries(tx: EntityManager, fresh: PlannedMessage[], seqs: Map<string, number>): Promise<void> {
  const rows = fresh.flatMap((m) =>
    m.deliveries.map((d) => [
      d.id,
      m.id,
      d.userId,
      d.channel,
      d.endpoint,
      d.locale,
      d.tier,
      d.status,
      d.lastError,
      d.nextAttemptAt,
      m.expiresAt,
      m.createdAt,
      d.channel === 'websocket' && d.userId !== null ? (seqs.get(inboxKey(d.userId, m.id)) ?? null) : null,
    ]),
  );
  for (const slice of inSlices(rows)) {
    await tx.query(
      `${insertJsonRows('deliveries', DELIVERY_COLUMNS)}
       ON CONFLICT ON CONSTRAINT uq_deliveries_target DO NOTHING`,
      [jsonRows(slice)],
    );
  }
}

/**
 * What a replayed request's first pass may not have got out: its deliveries still queued (their jobs)
 * and the outcomes decided while routing — no endpoint, or expired before it was stored — whose events
 * the produce after the commit may have lost. Those events can go out twice, like the jobs.
 */
async function replayedDeliveries(tx: EntityManager, requestIds: string[]): Promise<{ queued: DeliveryKey[]; decided: OutcomeEvent[] }> {
  const rows = await queryRows<{ id: string; created_at: Date; status: string; request_id: string; message_id: string; user_id: string | null; channel: Channel; last_error: string | null }>(
    tx,
    `SELECT d.id, d.created_at, d.status, k.request_id, d.message_id, d.user_id, d.channel, d.last_error
       FROM request_keys k
       JOIN deliveries d ON d.message_id = k.message_id AND d.created_at = k.created_at
      WHERE k.request_id = ANY($1::varchar[])
        AND (d.status = 'queued'
             OR (d.status = 'dead' AND d.last_error = '${ErrorCode.NoEndpoint}' AND d.attempts = 0)
             OR (d.status = 'expired' AND d.expires_at <= d.created_at))`,
    [requestIds],
  );
  return {
    queued: rows.filter((row) => row.status === 'queued').map((row) => ({ id: row.id, createdAt: row.created_at })),
    decided: rows
      .filter((row) => row.status !== 'queued')
      .map((row) => routingOutcome(row.request_id, row.message_id, row.created_at, { ...row, userId: row.user_id, lastError: row.last_error })),
  };
}

/** The jobs and events `replayedDeliveries` finds for requests stored before, read only when there is anything to read. */
async function handedOutAgain(tx: EntityManager, requestIds: string[]): Promise<{ jobs: DeliveryJob[]; events: OutcomeEvent[] }> {
  const again = requestIds.length > 0 ? await replayedDeliveries(tx, requestIds) : { queued: [], decided: [] };
  const jobs = again.queued.length > 0 ? await loadDeliveryJobs(tx, again.queued) : [];
  return { jobs, events: again.decided };
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
          ...withUrl(content.get(d.locale)?.url),
          createdAt: m.createdAt.toISOString(),
        },
      }));
  });
}

function decidedOutcomes(fresh: PlannedMessage[]): OutcomeEvent[] {
  return fresh.flatMap((m) =>
    m.deliveries.filter((d) => d.status === 'dead' || d.status === 'expired').map((d) => routingOutcome(m.requestId, m.id, m.createdAt, d)),
  );
}

/** The event of an outcome decided while routing (no endpoint, already expired): attempt 0, at the message's creation. */
function routingOutcome(
  requestId: string,
  messageId: string,
  createdAt: Date,
  d: { id: string; userId: string | null; channel: Channel; status: string; lastError: string | null },
): OutcomeEvent {
  return {
    requestId,
    messageId,
    userId: d.userId,
    channel: d.channel,
    status: d.status as 'dead' | 'expired',
    attempt: 0,
    at: createdAt.toISOString(),
    error: d.lastError,
    deliveryId: d.id,
  };
}
