import type { DataSource, EntityManager } from 'typeorm';
import { ErrorCode, type Channel, type DeliveryJob, type OutcomeEvent, type Priority, type RecipientSelector } from '@notify/contracts';
import type { RetryPolicy } from '../entities/message.entity';
import { loadDeliveryJobs, withTopic, withUrl } from './delivery-jobs';
import type { DeliveryKey } from './delivery-keys';
import { inboxKey } from './inbox-allocation';
import { resumeUnfinished, storeInSteps, type SliceStored } from './ingest-steps';
import { columnNames, jsonRows, queryRows, ROWS_PER_STATEMENT, selectJsonRows, type JsonColumn } from './rows';

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
  /**
   * How many requests this call stored to their end: each new one stored in one statement, and each
   * one stored in steps (new or resumed) whose last step it ran. A request is counted once, by the
   * call that ends it, also when the call that began it was stopped part-way.
   */
  stored: number;
}

/**
 * Stores one consumed batch in one statement, one multi-row insert per table (above 20,000 rows for a
 * table, a transaction per slice of users: `storeInSteps`). A request id seen before inserts nothing
 * (a request whose write in steps stopped part-way is resumed); its deliveries that are still queued
 * are returned again, so a crash between the commit and the produce loses nothing.
 */
export class IngestStore {
  constructor(private readonly dataSource: DataSource) {}

  /** `sliceStored` is awaited after each slice of users of a batch stored in steps is committed. */
  async ingest(batch: PlannedMessage[], sliceStored?: SliceStored): Promise<IngestResult> {
    if (batch.length === 0) return { jobs: [], events: [], stored: 0 };
    const { fresh, seqs, readBack = [], finished } = fitsOneStatement(batch) ? await storeInOneStatement(this.dataSource, batch) : await storeInSteps(this.dataSource, batch, sliceStored);
    const freshIds = new Set(fresh.map((m) => m.requestId));
    const replayed = batch.filter((m) => !freshIds.has(m.requestId));
    const resumed = await resumeUnfinished(this.dataSource, replayed, sliceStored);
    const readBackIds = new Set(readBack);
    const handedOut = fresh.filter((m) => !readBackIds.has(m.requestId));
    const again = await handedOutAgain(this.dataSource.manager, [...replayed.map((m) => m.requestId), ...readBack]);
    // A delivery the resume just stored with no endpoint is read back as a replay's too: its event goes once.
    const resumedIds = new Set(resumed.decided.map((e) => e.deliveryId));
    return {
      jobs: [...freshJobs(handedOut, seqs), ...again.jobs],
      events: [...decidedOutcomes(handedOut), ...resumed.decided, ...again.events.filter((e) => !resumedIds.has(e.deliveryId))],
      stored: finished + resumed.finished,
    };
  }

  /**
   * For request ids refused this time: those stored before, and what their first pass may not have
   * got out (as for a replay in `ingest`). A request stored once stays the request, whatever its
   * later copies say. Those of them in `unfinished` were stored in part (a write in steps stopped
   * part-way), and what is left of them cannot be stored without a plan: only a replay that can be
   * planned resumes them.
   */
  async replayOf(requestIds: string[]): Promise<{ requestIds: string[]; unfinished: string[]; jobs: DeliveryJob[]; events: OutcomeEvent[] }> {
    if (requestIds.length === 0) return { requestIds: [], unfinished: [], jobs: [], events: [] };
    return this.dataSource.transaction(async (tx) => {
      const stored = await queryRows<{ request_id: string; unfinished: boolean }>(
        tx,
        `SELECT k.request_id, u.request_id IS NOT NULL AS unfinished
           FROM request_keys k LEFT JOIN unfinished_requests u ON u.request_id = k.request_id
          WHERE k.request_id = ANY($1::varchar[])`,
        [requestIds],
      );
      const ids = stored.map((row) => row.request_id);
      const unfinished = stored.filter((row) => row.unfinished).map((row) => row.request_id);
      return { requestIds: ids, unfinished, ...(await handedOutAgain(tx, ids)) };
    });
  }
}

/** The requests of a batch that were new, and the inbox number of each of their inbox placements (by `inboxKey`). */
export interface Stored {
  fresh: PlannedMessage[];
  seqs: Map<string, number>;
  /**
   * How many requests this write ended: in one statement, every new one; in steps, those whose last
   * step it ran (another process that resumed one meanwhile and ended it counts that one).
   */
  finished: number;
  /**
   * New requests another process stored part of meanwhile, resuming them as a replay (a member that
   * lost its partition and still writes, beside the partition's new owner; `storeInSteps` only):
   * their rows are partly that process's, with the ids it planned, so their jobs and events are read
   * back as a replay's are.
   */
  readBack?: string[];
}

/** Whether each table's rows of the batch fit in one statement's parameter (see `ROWS_PER_STATEMENT`). */
function fitsOneStatement(batch: PlannedMessage[]): boolean {
  let placements = 0;
  let deliveries = 0;
  for (const m of batch) {
    placements += m.inbox.length;
    deliveries += m.deliveries.length;
  }
  return Math.max(batch.length, placements, deliveries) <= ROWS_PER_STATEMENT;
}

/** The columns of a message row, and of a delivery and a request key below: shared with `storeInSteps`. */
export const MESSAGE_COLUMNS = [
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

export function messageRows(messages: PlannedMessage[]): unknown[][] {
  return messages.map((m) => [
    m.id,
    m.requestId,
    m.type,
    m.recipient,
    m.data,
    contentsByLocale(m.contents),
    m.locale,
    m.priority,
    m.retry,
    m.sendAt,
    m.expiresAt,
    m.createdAt,
  ]);
}

/** A message's texts as the `contents` column holds them: by locale. */
export function contentsByLocale(contents: PlannedMessage['contents']): Record<string, Omit<PlannedMessage['contents'][number], 'locale'>> {
  return Object.fromEntries(contents.map(({ locale, ...text }) => [locale, text]));
}

/** A delivery's columns; `seq`, its inbox number, is given to websocket deliveries of a user with an inbox placement. */
export const DELIVERY_COLUMNS = [
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
] as const satisfies readonly JsonColumn[];

/** The rows of `DELIVERY_COLUMNS`, and with `seqs` (inbox numbers by `inboxKey`) a `seq` after them. */
export function deliveryRows(messages: PlannedMessage[], seqs?: Map<string, number>): unknown[][] {
  return messages.flatMap((m) =>
    m.deliveries.map((d) => {
      const row: unknown[] = [d.id, m.id, d.userId, d.channel, d.endpoint, d.locale, d.tier, d.status, d.lastError, d.nextAttemptAt, m.expiresAt, m.createdAt];
      if (seqs) row.push(d.channel === 'websocket' && d.userId !== null ? (seqs.get(inboxKey(d.userId, m.id)) ?? null) : null);
      return row;
    }),
  );
}

export const REQUEST_KEY_COLUMNS = [
  ['request_id', 'varchar'],
  ['message_id', 'uuid'],
  ['created_at', 'timestamptz'],
] as const satisfies readonly JsonColumn[];

const PLACEMENT_COLUMNS = [
  ['user_id', 'varchar'],
  ['message_id', 'uuid'],
  ['locale', 'varchar'],
  ['created_at', 'timestamptz'],
  ['position', 'int'],
  ['lock_order', 'int'],
] as const satisfies readonly JsonColumn[];

/**
 * The batch in one statement, which commits on its own: one round trip instead of a transaction's
 * seven (docs/benchmarks.md, "one statement per batch"). The request keys claimed decide which
 * messages, inbox entries and deliveries go in. Each user's inbox numbers are handed out by one
 * upsert whose rows are locked in user order (as `placeInInboxes` does), then numbered in the order
 * of the batch. All parts see the same snapshot and read only each other's RETURNING rows. The
 * parameters' rows are joined to each other by hash (`jsonb_array_elements`, see `selectJsonRows`).
 *
 * The counter triggers (migration 1763600000011) fire at the end of the statement, after the inbox
 * rows are locked; the deliveries are inserted from the messages' RETURNING rows so that the
 * messages' trigger fires first and takes its counter rows in one sorted pass, as the transaction
 * did (the other order could deadlock two batches on their counter rows).
 */
export async function storeInOneStatement(db: DataSource, batch: PlannedMessage[]): Promise<Stored> {
  // Users are locked in the order JavaScript sorts them, as `placeInInboxes` locks them: an `ORDER BY
  // user_id` would follow the database's collation, in which `alice` may come before `Bob`.
  const users = [...new Set(batch.flatMap((m) => m.inbox.map((entry) => entry.userId)))].sort();
  const lockOrder = new Map(users.map((userId, rank) => [userId, rank]));
  let position = 0;
  const placements = batch.flatMap((m) => m.inbox.map((entry) => [entry.userId, m.id, entry.locale, m.createdAt, position++, lockOrder.get(entry.userId)!]));
  const rows = await queryRows<{ request_id: string | null; user_id: string | null; message_id: string | null; seq: string | null }>(
    db,
    `WITH planned AS (${selectJsonRows(MESSAGE_COLUMNS, '$1', 'jsonb_array_elements')}),
     claimed AS (
       INSERT INTO request_keys (request_id, message_id, created_at)
       SELECT request_id, id, created_at FROM planned
       ON CONFLICT (request_id) DO NOTHING
       RETURNING request_id, message_id
     ),
     messages_stored AS (
       INSERT INTO messages (${columnNames(MESSAGE_COLUMNS)})
       SELECT ${columnNames(MESSAGE_COLUMNS, 'p.')} FROM planned p JOIN claimed c ON c.message_id = p.id
       RETURNING id
     ),
     placed AS (
       SELECT p.* FROM (${selectJsonRows(PLACEMENT_COLUMNS, '$2', 'jsonb_array_elements')}) p JOIN claimed c ON c.message_id = p.message_id
     ),
     allocated AS (
       INSERT INTO inbox_sequences (user_id, last_seq)
       SELECT user_id, count(*) FROM placed GROUP BY user_id, lock_order ORDER BY lock_order
       ON CONFLICT (user_id) DO UPDATE SET last_seq = inbox_sequences.last_seq + EXCLUDED.last_seq
       RETURNING user_id, last_seq
     ),
     numbered AS (
       SELECT p.user_id, p.message_id, p.locale, p.created_at,
              a.last_seq - count(*) OVER (PARTITION BY p.user_id) + row_number() OVER (PARTITION BY p.user_id ORDER BY p.position) AS seq
         FROM placed p JOIN allocated a ON a.user_id = p.user_id
     ),
     entries_stored AS (
       INSERT INTO inbox_entries (user_id, seq, message_id, locale, created_at)
       SELECT user_id, seq, message_id, locale, created_at FROM numbered
     ),
     deliveries_stored AS (
       INSERT INTO deliveries (${columnNames(DELIVERY_COLUMNS)}, seq)
       SELECT ${columnNames(DELIVERY_COLUMNS, 'd.')}, n.seq
         FROM (${selectJsonRows(DELIVERY_COLUMNS, '$3', 'jsonb_array_elements')}) d
         JOIN messages_stored m ON m.id = d.message_id
         LEFT JOIN numbered n ON d.channel = 'websocket' AND n.user_id = d.user_id AND n.message_id = d.message_id
       ON CONFLICT ON CONSTRAINT uq_deliveries_target DO NOTHING
     )
     SELECT request_id, NULL::varchar AS user_id, NULL::uuid AS message_id, NULL::bigint AS seq FROM claimed
     UNION ALL
     SELECT NULL, user_id, message_id, seq FROM numbered`,
    [jsonRows(messageRows(batch)), jsonRows(placements), jsonRows(deliveryRows(batch))],
  );
  const freshIds = new Set<string>();
  const seqs = new Map<string, number>();
  for (const row of rows) {
    if (row.request_id !== null) freshIds.add(row.request_id);
    // Sequence numbers stay far below 2^53, so they are exact as numbers.
    else seqs.set(inboxKey(row.user_id!, row.message_id!), Number(row.seq));
  }
  const fresh = batch.filter((m) => freshIds.has(m.requestId));
  return { fresh, seqs, finished: fresh.length };
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
          ...withTopic(d.channel === 'email' && 'topic' in m.recipient ? m.recipient.topic : undefined),
          createdAt: m.createdAt.toISOString(),
        },
      }));
  });
}

/** The events of the messages' deliveries decided while routing (no endpoint, already expired). */
export function decidedOutcomes(messages: PlannedMessage[]): OutcomeEvent[] {
  return messages.flatMap((m) =>
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
