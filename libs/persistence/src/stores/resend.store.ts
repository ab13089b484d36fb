import type { DataSource, EntityManager } from 'typeorm';
import { ErrorCode, MAX_BATCH_JOBS, type Channel, type DeliveryJob, type OutcomeEvent } from '@notify/contracts';
import type { RetryPolicy } from '../entities/message.entity';
import { backoffDelayMs, DEFAULT_RETRY } from './backoff';
import { JOB_COLUMNS, JOB_COLUMNS_DATA_ONCE, sharingData, toDeliveryJob, type JobRowDataOnce } from './delivery-jobs';
import { recordedOutcomeOf, RETURNING_OUTCOME, type RecordedOutcome, type RecordedRow } from './recorded-outcome';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, keyedParams } from './delivery-keys';
import { queryRows, selectJsonRows, type JsonColumn } from './rows';
import { stageEvents } from './event-outbox';
import { leaseEnd } from './lease';
import { anotherTierReached } from './tiers';
import { leftItsTopic } from './audience';

/** All of one receiver's pending deliveries on one channel, claimed together so they go out as one send. */
export interface ResendBatch {
  /** Null for a delivery to a bare phone number or email address: a batch of that one delivery. */
  userId: string | null;
  channel: Channel;
  digest: boolean;
  jobs: DeliveryJob[];
}

export interface ClaimedResends {
  batches: ResendBatch[];
  /** Deliveries found past their expiry or out of attempts while claiming: `expired` or `dead` now. */
  ended: OutcomeEvent[];
  /** The claim stopped taking receivers at its bound of jobs (`MAX_CLAIM_JOBS`): more may be due now. */
  cutShort: boolean;
}

interface FailedRow {
  id: string;
  created_at: Date;
  user_id: string | null;
  channel: string;
  attempts: number;
  expires_at: Date | null;
  retry: Partial<RetryPolicy>;
}

/** A failed delivery as `scheduleFailed` left it: ended (`expired`, `dead`), or still `failed` with its next attempt time. */
interface EndedRow {
  id: string;
  created_at: Date;
  status: 'expired' | 'dead' | 'failed';
  user_id: string | null;
  channel: Channel;
  message_id: string;
  request_id: string;
  attempts: number;
  last_error: string | null;
}

/** A pending delivery found and locked for a claim, and its receiver. */
interface PendingRow {
  id: string;
  created_at: Date;
  user_id: string | null;
  channel: Channel;
}

/** A claimed delivery as the claim returns it: its job (`data` only on the first row of each message), and what the claim made of it. */
type ClaimedRow = JobRowDataOnce & { status: 'queued' | 'dead' | 'expired' | 'cancelled'; digest: boolean; last_error: string | null };

/**
 * A poller takes a receiver only under a transaction-scoped advisory lock on (user, channel): a
 * second poller running at the same moment skips that receiver and claims others, instead of
 * finding every row of the same first receivers locked and claiming nothing. The class number keeps
 * these locks apart from any other advisory lock in the database.
 */
const RECEIVER_LOCK_CLASS = 0x7265; // 're'
/** Candidates looked at per receiver wanted, so receivers other pollers hold leave room for more. */
const CANDIDATES_PER_RECEIVER = 4;
/**
 * Due rows a search looks at first, per receiver wanted (see `FIND_DUE`): a receiver often has
 * several due rows, and other pollers may hold some receivers.
 */
const DUE_ROWS_PER_RECEIVER = 20;
/**
 * Jobs a claim gathers before it stops taking receivers (it takes the last one it started whole, so
 * up to 999 more). Every job carries its message's `data` (up to 64 KiB), and a claim is held until
 * it is produced: 200 receivers with 1,000 pending broadcasts of 16 KB each were 200,000 jobs, more
 * than the poller's memory, and the same claim came back after its lease. What a claim leaves is
 * still due, for the next claim.
 */
export const MAX_CLAIM_JOBS = 5_000;

/**
 * Failures whose wait is not the receiver's to share: a rate limit's Retry-After, a vendor's
 * Retry-After on its 503 (`unavailable`; the row keeps only the error, so every `unavailable` waits
 * its own time), an address a mail server put off (`deferred`: greylisting, a full mailbox), the
 * platform's own rate limit, an open circuit (a wait that grows with the outage), an hour after a
 * configuration error. Such a delivery joins its receiver's batch only once its own time has come.
 * Taken early, it would be refused again and spend an attempt for nothing.
 */
const IMPOSED_WAITS = `('rate_limited', 'unavailable', 'deferred', 'throttled', 'circuit_open', 'bad_credentials', 'misconfigured')`;

/**
 * Failures after which the vendor may have taken the message all the same: a call that got no answer
 * in time (`timeout`), and a send whose outcome never came (`no_outcome`, `failUnanswered`). The
 * device or mailbox may show it already; see `sentAlone`.
 */
const UNKNOWN_OUTCOMES: ReadonlySet<string> = new Set(['timeout', ErrorCode.NoOutcome]);

/** A retry is the last chance to see that another tier reached the user (`anotherTierReached`). */
const OTHER_TIER_REACHED = anotherTierReached('d');

/**
 * The deliveries named by `$1`–`$3` (`deliveryKeys`) become `queued` under a lease of `$5` ms from
 * `$4` — or `expired`, or `dead` when out of attempts — and come back as whole jobs (the UPDATE
 * already joins the message). A write by key (architecture D17): joined to the pending rows found
 * in the same statement, the planner could not tell which partitions they were in, and read and
 * sorted every delivery to merge-join them, on each poll.
 */
const CLAIM_PENDING = `WITH claimed AS (
   UPDATE deliveries d
      SET status = CASE
            WHEN ${OTHER_TIER_REACHED} OR ${leftItsTopic('d', { message: 'm' })} THEN 'cancelled'
            WHEN d.expires_at IS NOT NULL AND d.expires_at <= $4 THEN 'expired'
            WHEN d.attempts >= COALESCE((m.retry ->> 'maxAttempts')::int, ${DEFAULT_RETRY.maxAttempts}) THEN 'dead'
            ELSE 'queued' END,
          -- only a delivery that stays queued gets a lease (the same conditions as above, negated)
          next_attempt_at = CASE WHEN NOT ${OTHER_TIER_REACHED} AND NOT ${leftItsTopic('d', { message: 'm' })} AND (d.expires_at IS NULL OR d.expires_at > $4)
                                  AND d.attempts < COALESCE((m.retry ->> 'maxAttempts')::int, ${DEFAULT_RETRY.maxAttempts})
                                 THEN ${leaseEnd('$4::timestamptz', '$5')} END,
          updated_at = now()
     FROM ${DELIVERY_KEYS}, messages m
    WHERE d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}
      AND m.id = d.message_id AND m.created_at = d.created_at AND ${inKeysRange('m')}
    RETURNING ${JOB_COLUMNS}, d.status, COALESCE((m.retry ->> 'digest')::boolean, false) AS digest, d.last_error)
  -- a claim of a broadcast's receivers (up to 5,000) shares one copy of its data
  SELECT ${JOB_COLUMNS_DATA_ONCE}, status, digest, last_error FROM claimed`;

/**
 * The pending deliveries of the receiver `userId` on `channel` (SQL expressions) that its batch takes
 * when any of them is due at `$1`, oldest first, at most one batch's worth, locked.
 */
const receiverPending = (userId: string, channel: string) => `SELECT d.id, d.created_at, d.user_id, d.channel FROM deliveries d
      WHERE d.user_id = ${userId} AND d.channel = ${channel}
        AND d.status IN ('failed', 'queued') AND d.next_attempt_at IS NOT NULL
        AND CASE d.status
              WHEN 'failed' THEN d.next_attempt_at IS NOT NULL AND (d.next_attempt_at <= $1 OR d.last_error IS NULL OR d.last_error NOT IN ${IMPOSED_WAITS})
              WHEN 'queued' THEN d.next_attempt_at <= $1
              ELSE false END
      ORDER BY d.created_at
      LIMIT ${MAX_BATCH_JOBS}
      FOR UPDATE SKIP LOCKED`;

/** Up to $1 deliveries that failed and have no retry time yet (`ix_deliveries_failed_unscheduled`), locked. */
export const FIND_FAILED = `SELECT d.id, d.created_at, d.user_id, d.channel, d.attempts, d.expires_at, m.retry
   FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at
  WHERE d.status = 'failed' AND d.next_attempt_at IS NULL
  LIMIT $1
  FOR UPDATE OF d SKIP LOCKED`;

/**
 * Finds and locks the pending deliveries of up to `$2` receivers with anything due at `$1`, for
 * `CLAIM_PENDING`, and stops at `$4` rows (none when null): PostgreSQL runs the LATERAL join one
 * receiver after another and only as far as the LIMIT asks, so receivers past it are neither locked
 * nor read, and only the last one it reached can be cut short (`claimDue` completes it). Receivers
 * with anything due are found through `ix_deliveries_leased` among the first `$3` due rows (all of
 * them when null): a DISTINCT over every due row read and sorted them all on each poll, so a backlog
 * cost its square to drain. A bounded search that finds nothing (its rows all belong to receivers
 * other pollers hold) is run again over every due row. Each receiver's pending rows are then read
 * through `ix_deliveries_pending_receiver`, oldest first, at most one batch's worth (the rest go in
 * the next claim), without reading the receiver's history. Which of them the batch takes is a CASE on
 * purpose: written as plain comparisons it implied the leased index's predicate on its own, and on
 * tables without statistics yet the planner read that whole index once per receiver (500 × 20,000
 * entries).
 */
export const FIND_DUE = `WITH due AS (
     SELECT c.user_id, c.channel FROM (
       SELECT DISTINCT r.user_id, r.channel FROM (
         SELECT user_id, channel FROM deliveries
          WHERE user_id IS NOT NULL AND next_attempt_at <= $1 AND status IN ('failed', 'queued')
          LIMIT $3) AS r
        LIMIT $2 * ${CANDIDATES_PER_RECEIVER}) AS c
      WHERE pg_try_advisory_xact_lock(${RECEIVER_LOCK_CLASS}, hashtext(c.channel || ':' || c.user_id))
      LIMIT $2)
   SELECT p.* FROM due CROSS JOIN LATERAL (${receiverPending('due.user_id', 'due.channel')}) AS p
   LIMIT $4`;

/** All of one receiver's pending rows (`$2`, `$3`), to complete a receiver `FIND_DUE` stopped in. */
const FIND_RECEIVER_PENDING = receiverPending('$2', '$3');

/**
 * Finds and locks up to `$2` due deliveries that have no user (a bare phone number or email
 * address): with no user to gather them by, each goes out on its own.
 */
const FIND_DUE_WITHOUT_USER = `SELECT id, created_at, user_id, channel FROM deliveries
      WHERE user_id IS NULL AND status IN ('failed', 'queued') AND next_attempt_at <= $1
      LIMIT $2
      FOR UPDATE SKIP LOCKED`;

/**
 * The failed-delivery cache of the resend poller, kept in PostgreSQL. A failed delivery first gets
 * its next attempt time (backoff with full jitter) or ends (`dead`, `expired`); when any of a
 * receiver's pending deliveries on a channel is due, all of them are claimed together under a lease
 * (`FOR UPDATE SKIP LOCKED`, so pollers never claim the same delivery; a crashed poller's claims
 * come due again when the lease runs out), but for those under a wait a provider set (see
 * `IMPOSED_WAITS`).
 */
export class ResendStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Sends whose outcome never came: still `sent` when the claim's lease ran out, because the gateway
   * or channel worker died after claiming or could not write the outcome. They become `failed` — for
   * browsers `ack_timeout`, as no acknowledgement came; for providers `no_outcome` — and then get
   * their next attempt time from `scheduleFailed` like any failure. Returns their `failed` events.
   */
  async failUnanswered(now: Date, limit: number): Promise<RecordedOutcome[]> {
    return this.dataSource.transaction(async (tx) => {
      const rows = await queryRows<RecordedRow>(
        tx,
        `UPDATE deliveries d
            SET status = 'failed', next_attempt_at = NULL, updated_at = now(),
                last_error = CASE WHEN d.channel = 'websocket' THEN '${ErrorCode.AckTimeout}' ELSE '${ErrorCode.NoOutcome}' END
           FROM (SELECT id, created_at FROM deliveries
                  WHERE status = 'sent' AND next_attempt_at <= $1
                  LIMIT $2
                  FOR UPDATE SKIP LOCKED) AS lost
          WHERE d.id = lost.id AND d.created_at = lost.created_at AND d.status = 'sent'
          ${RETURNING_OUTCOME}`,
        [now, limit],
      );
      return stageEvents(tx, rows.map(recordedOutcomeOf));
    });
  }

  /**
   * Gives up to `limit` newly failed deliveries their next attempt time, or ends them. Returns how many
   * it took (fewer than `limit`: none are left) and the events of those that ended.
   */
  async scheduleFailed(now: Date, limit: number, random: () => number = Math.random): Promise<{ taken: number; ended: OutcomeEvent[] }> {
    return this.dataSource.transaction(async (tx) => {
      const failed = await queryRows<FailedRow>(tx, FIND_FAILED, [limit]);
      if (failed.length === 0) return { taken: 0, ended: [] };
      // One draw per receiver and channel: its failures come back as one batch when the first is due,
      // so a draw each made the batch come back at the shortest of them and spend its attempts early.
      const receiverOf = (row: FailedRow): string => (row.user_id === null ? row.id : `${row.user_id}\u0000${row.channel}`);
      const draws = new Map<string, number>();
      const drawFor = (row: FailedRow): number => {
        const key = receiverOf(row);
        if (!draws.has(key)) draws.set(key, random());
        return draws.get(key)!;
      };
      const decisions = failed.map((row) => {
        const policy = { ...DEFAULT_RETRY, ...row.retry };
        if (row.expires_at && row.expires_at <= now) return { row, status: 'expired', next: null };
        if (row.attempts >= policy.maxAttempts) return { row, status: 'dead', next: null };
        return { row, status: 'failed', next: nextAttempt(now, backoffDelayMs(policy, row.attempts, () => drawFor(row)), row.expires_at) };
      });
      // And one time: a batch that failed together (a digest, a summary) holds messages of different
      // attempt counts, whose backoffs differ. A failure the claim keeps to its own time (IMPOSED_WAITS:
      // a 503 or a deferral that named no wait, so ours is used) would otherwise come back alone, one
      // SMS each instead of the digest. The earliest is within every member's expiry.
      const earliest = new Map<string, Date>();
      for (const { row, next } of decisions) {
        const sooner = earliest.get(receiverOf(row));
        if (next && (!sooner || next < sooner)) earliest.set(receiverOf(row), next);
      }
      for (const decision of decisions) if (decision.next) decision.next = earliest.get(receiverOf(decision.row))!;
      const ended = await queryRows<EndedRow>(
        tx,
        `UPDATE deliveries d
            SET status = x.status, next_attempt_at = x.next, updated_at = now()
           FROM (${selectJsonRows(DECISION_COLUMNS)}) AS x, messages m
          WHERE d.id = x.id AND d.created_at = x.created_at AND ${inKeysRange('d')}
            AND m.id = d.message_id AND m.created_at = d.created_at AND ${inKeysRange('m')}
          RETURNING d.id, d.created_at, d.status, d.user_id, d.channel, d.message_id, m.request_id, d.attempts, d.last_error`,
        keyedParams(
          decisions.map((d) => [d.row.id, d.row.created_at, d.status, d.next]),
          failed.map((row) => row.created_at),
        ),
      );
      return { taken: failed.length, ended: await stageEvents(tx, ended.filter((row) => row.status !== 'failed').map((row) => endedEvent(row, now))) };
    });
  }

  /**
   * Claims the pending deliveries of up to `receivers` receivers (per channel) that have anything
   * due, due or not, so jitter never splits one receiver's messages over several sends, and up to
   * `receivers` due deliveries that have no user. It takes no further receiver once it holds `maxJobs`
   * jobs (`cutShort`). Claimed deliveries become `queued` with `next_attempt_at` = the lease's end;
   * rows it found but does not return are never written, only locked until it commits.
   */
  async claimDue(now: Date, leaseMs: number, receivers: number, maxJobs = MAX_CLAIM_JOBS): Promise<ClaimedResends> {
    return this.dataSource.transaction(async (tx) => {
      let byUser = await queryRows<PendingRow>(tx, FIND_DUE, [now, receivers, receivers * DUE_ROWS_PER_RECEIVER, maxJobs]);
      if (byUser.length === 0) byUser = await queryRows<PendingRow>(tx, FIND_DUE, [now, receivers, null, maxJobs]);
      const cutShort = byUser.length >= maxJobs;
      if (cutShort) byUser = await completeLastReceiver(tx, byUser, now);
      const pending = [...byUser, ...(await queryRows<PendingRow>(tx, FIND_DUE_WITHOUT_USER, [now, receivers]))];
      if (pending.length === 0) return { batches: [], ended: [], cutShort };
      const keys = pending.map((row) => ({ id: row.id, createdAt: row.created_at }));
      const rows = sharingData(await queryRows<ClaimedRow>(tx, CLAIM_PENDING, [...deliveryKeys(keys), now, leaseMs]));
      await bringForwardTheRest(tx, byUser, now);
      const batches = new Map<string, ResendBatch>();
      for (const row of rows) {
        if (row.status !== 'queued') continue;
        // An SMS or email digest gathers only the messages whose route asks for one: a one-time code
        // from another route still goes on its own.
        const digestible = row.channel === 'sms' || row.channel === 'email';
        const key = sentAlone(row) ? row.id : `${row.user_id}\u0000${row.channel}${digestible ? `\u0000${row.digest}` : ''}`;
        const batch = batches.get(key) ?? { userId: row.user_id, channel: row.channel, digest: digestible && row.digest, jobs: [] };
        batch.jobs.push(toDeliveryJob(row));
        batches.set(key, batch);
      }
      for (const batch of batches.values()) batch.jobs.sort((a, b) => (a.message.seq ?? 0) - (b.message.seq ?? 0) || a.message.createdAt.localeCompare(b.message.createdAt));
      // A cancelled tier publishes nothing, as `cancelAbove`'s do not.
      const ended = await stageEvents(tx, rows.filter((r) => r.status === 'dead' || r.status === 'expired').map((r) => endedEvent(r, now)));
      return { batches: [...batches.values()], ended, cutShort };
    });
  }
}

/**
 * Whether a claimed delivery goes out as a batch of its own rather than in its receiver's summary or
 * digest: one without a user, and a push or an email digest's member whose last send may have
 * reached the user (`UNKNOWN_OUTCOMES`) and was its first, always a send of its own (a job of
 * `notify.deliver.<channel>`). Alone it carries the key that replaces that copy (the push's collapse
 * id, its message id; the mail's Message-ID, of its delivery and text). A summary carries the newest
 * message's collapse id, which replaced only that message's notification, and a digest a Message-ID
 * no earlier mail had: the others showed twice. A later send may have been a summary itself, which a
 * summary again replaces (sent one by one, a lost summary of 50 came back as 50 notifications): it
 * stays in its receiver's batch. Not a browser's (the device tells its resends apart by message id),
 * nor an SMS, which no key replaces: alone or in a digest, a text that arrived arrives again.
 */
function sentAlone(row: ClaimedRow): boolean {
  if (row.user_id === null) return true;
  const replaceable = row.channel === 'push' || (row.channel === 'email' && row.digest);
  return replaceable && row.attempts <= 1 && row.last_error !== null && UNKNOWN_OUTCOMES.has(row.last_error);
}

/**
 * `FIND_DUE`'s rows with the receiver its LIMIT stopped in taken whole: a batch takes all of a
 * receiver's pending deliveries on a channel. The rows come receiver after receiver (the LATERAL
 * join), so that receiver is the last row's; its rows are read again whole (they are locked by this
 * transaction already, which SKIP LOCKED does not skip).
 */
async function completeLastReceiver(tx: EntityManager, rows: PendingRow[], now: Date): Promise<PendingRow[]> {
  const last = rows[rows.length - 1]!;
  const others = rows.filter((row) => row.user_id !== last.user_id || row.channel !== last.channel);
  return [...others, ...(await queryRows<PendingRow>(tx, FIND_RECEIVER_PENDING, [now, last.user_id, last.channel]))];
}

/**
 * A receiver with more pending deliveries on a channel than one batch holds (`MAX_BATCH_JOBS`) had
 * only the oldest claimed: the rest are made due now, for the next claim to send as the next batch.
 * Left at their own times (up to the backoff's ceiling away), they went out later as a second
 * summary or digest, and failed and were tried again apart from the first from then on. Those under
 * a wait a provider set keep it, as the claim does.
 */
async function bringForwardTheRest(tx: EntityManager, claimed: PendingRow[], now: Date): Promise<void> {
  const counts = new Map<string, { userId: string; channel: string; count: number }>();
  for (const row of claimed) {
    if (row.user_id === null) continue;
    const key = `${row.user_id}\u0000${row.channel}`;
    const receiver = counts.get(key) ?? { userId: row.user_id, channel: row.channel, count: 0 };
    receiver.count += 1;
    counts.set(key, receiver);
  }
  const full = [...counts.values()].filter((receiver) => receiver.count >= MAX_BATCH_JOBS);
  if (full.length === 0) return;
  // SKIP LOCKED, as every lock the claim takes: a row another transaction holds (a read of it) keeps
  // its own time, and the claim never waits while it holds its batch (waiting, it could deadlock with
  // a read that holds a newer row and waits for an older one).
  await tx.query(
    `UPDATE deliveries d SET next_attempt_at = $1, updated_at = now()
       FROM (SELECT p.id, p.created_at FROM deliveries p, unnest($2::varchar[], $3::varchar[]) AS r(user_id, channel)
              WHERE p.user_id = r.user_id AND p.channel = r.channel
                AND p.status = 'failed' AND p.next_attempt_at > $1
                AND (p.last_error IS NULL OR p.last_error NOT IN ${IMPOSED_WAITS})
                FOR UPDATE OF p SKIP LOCKED) AS rest
      WHERE d.id = rest.id AND d.created_at = rest.created_at`,
    [now, full.map((receiver) => receiver.userId), full.map((receiver) => receiver.channel)],
  );
}

/**
 * When a failure is next tried: after its backoff, but no later than its message's expiry, when the
 * claim ends it as `expired` (left `failed` until its backoff ended, it published nothing for up to
 * `maxBackoffMs` after the message had expired).
 */
function nextAttempt(now: Date, backoffMs: number, expiresAt: Date | null): Date {
  const next = now.getTime() + backoffMs;
  return new Date(expiresAt ? Math.min(next, expiresAt.getTime()) : next);
}

/**
 * The event of a delivery a resend statement ended (`dead` or `expired`; callers leave out the rest).
 * A `dead` one carries the error of its last attempt, as the row keeps it and as the channel worker
 * publishes one it ends itself.
 */
function endedEvent(row: Omit<EndedRow, 'status'> & { status: string }, now: Date): OutcomeEvent {
  const status = row.status as 'dead' | 'expired';
  return recordedOutcomeOf({ ...row, status, last_error: status === 'dead' ? row.last_error : null, updated_at: now });
}

/** A retry decision: the delivery, what it becomes, and when it is next due. */
const DECISION_COLUMNS = [
  ['id', 'uuid'],
  ['created_at', 'timestamptz'],
  ['status', 'varchar'],
  ['next', 'timestamptz'],
] as const satisfies readonly JsonColumn[];
