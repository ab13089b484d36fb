import type { DataSource, EntityManager } from 'typeorm';
import { GAVE_UP_ERRORS, type Channel, type DeliveryJob, type OutcomeEvent } from '@notify/contracts';
import { loadDeliveryJobs } from './delivery-jobs';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, keyedParams, keysOfIds, type DeliveryKey } from './delivery-keys';
import { inboxKey, placeInInboxes } from './inbox-allocation';
import { recordedOutcomeOf } from './recorded-outcome';
import { stageEvents } from './event-outbox';
import { queryRows, selectJsonRows, type JsonColumn } from './rows';
import { leaseEnd } from './lease';
import { sameUser } from './tiers';
import { leftItsTopic } from './audience';

/** A tier has given up on the user when each of its deliveries is in one of these. */
const GAVE_UP = `(y.status IN ('dead', 'expired', 'cancelled') OR (y.status = 'failed' AND y.last_error IN (${GAVE_UP_ERRORS.map((e) => `'${e}'`).join(', ')})))`;
/** A lower tier that gave up or reached the user: nothing more will come of it (false, not null, for any other row). */
const ENDED = `COALESCE(${GAVE_UP} OR y.status IN ('delivered', 'read', 'clicked'), false)`;

/**
 * A held tier with no time of its own waits for the event of its lower tier's end. Ended longer ago
 * than this, the event was lost (a process killed between its commit and its publish) and the
 * release poller moves the tier itself.
 */
export const STRANDED_AFTER_MS = 2 * 60_000;

/**
 * A released delivery is `queued` under this lease: its job is produced after the release commits,
 * and if that produce never happens (the process stopped, the broker refused) the resend poller
 * finds the delivery once the lease has run out and sends it. Longer than a channel's usual lag, so
 * a job merely waiting in Kafka is not produced twice.
 */
export const RELEASE_LEASE_MS = 5 * 60_000;

/**
 * The deliveries of the same message and user as `h` in a lower tier (`y`), as the start of a subquery.
 * The users compare with `=` (`sameUser` says why).
 */
const LOWER_TIER = (h: string) => `SELECT 1 FROM deliveries y
                                  WHERE y.message_id = ${h}.message_id AND ${sameUser('y', h)}
                                    AND y.created_at = ${h}.created_at AND y.tier < ${h}.tier`;

/**
 * A scheduler releases a message's held tiers for one user only under a transaction-scoped advisory
 * lock on (message, user). A tier of two deliveries (a phone and a tablet) moves the tiers above it
 * when its last delivery goes; released by two schedulers at once, each saw the other's still held
 * and neither moved them, so the SMS due 30 s after a late push went out with it. Another scheduler
 * skips that message and user until the first commits. The class keeps these locks apart from others.
 */
const RELEASE_LOCK_CLASS = 0x7274; // 'rt'
/** Candidates looked at per delivery wanted, so deliveries another scheduler holds leave room for more. */
const CANDIDATES_PER_RELEASE = 4;

/**
 * Finds and locks up to `$2` held deliveries due at `$1` (`releaseDue`): among the first due ones,
 * those of a (message, user) no other scheduler is releasing. Due by their time or past their expiry:
 * two searches, each through an index of its own (`ix_deliveries_held_due`, `ix_deliveries_held_expiry`)
 * and only as far as the candidates go; as one condition (`time <= now OR expiry <= now`), no index
 * could answer it and every poll read every held and failed delivery. The locks are tried in the
 * candidates' order and only until `$2` are taken: tried on all of them before the limit, a batch
 * locked four times what it released, and a second scheduler found nothing left to release.
 */
export const RELEASE_DUE = `SELECT h.id, h.created_at FROM (
   SELECT c.id, c.created_at FROM (
     SELECT c.* FROM (
       (SELECT c.id, c.created_at, c.message_id, c.user_id, c.channel, c.next_attempt_at AS due_at FROM deliveries c
         WHERE c.status = 'held' AND c.next_attempt_at <= $1
           AND (c.expires_at <= $1 OR NOT EXISTS (${LOWER_TIER('c')} AND y.status = 'held'))
         ORDER BY c.next_attempt_at
         LIMIT $2 * ${CANDIDATES_PER_RELEASE})
       UNION ALL
       (SELECT c.id, c.created_at, c.message_id, c.user_id, c.channel, c.expires_at FROM deliveries c
         WHERE c.status = 'held' AND c.expires_at <= $1 AND (c.next_attempt_at IS NULL OR c.next_attempt_at > $1)
         ORDER BY c.expires_at
         LIMIT $2 * ${CANDIDATES_PER_RELEASE})) AS c
      -- a message's deliveries to one user together, its browser delivery first: a push released in
      -- the same batch or after it carries the inbox number the browser delivery is given
      ORDER BY c.due_at, c.message_id, c.user_id, c.channel <> 'websocket'
      LIMIT $2 * ${CANDIDATES_PER_RELEASE}) AS c
    WHERE pg_try_advisory_xact_lock(${RELEASE_LOCK_CLASS}, hashtext(c.message_id::text || ':' || COALESCE(c.user_id, '')))
    LIMIT $2) AS c
   JOIN deliveries h ON h.id = c.id AND h.created_at = c.created_at
  -- again on the locked row: a row another transaction released or cancelled since this
  -- statement's snapshot is checked in its new version, and only conditions on h see that
  WHERE h.status = 'held' AND (h.next_attempt_at <= $1 OR h.expires_at <= $1)
  FOR UPDATE OF h SKIP LOCKED`;

export interface Released {
  jobs: DeliveryJob[];
  /** Held deliveries found past their expiry instead of released. */
  expired: OutcomeEvent[];
  /**
   * How many held deliveries the batch took: released, expired, or cancelled because a lower tier
   * had delivered. Fewer than the limit means nothing more was due.
   */
  taken: number;
}

/**
 * Moves deliveries between fallback tiers: the next tier is released when every delivery of the
 * tiers before it gave up on the user, held tiers are cancelled once a lower tier delivered, and held
 * deliveries whose time has come (a scheduled send, an escalation timeout) are released.
 */
export class FallbackStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * After failures: releases the next held tier of each affected (message, user), when all before it
   * gave up; cancels it instead when its user left the topic the message went to (`leftItsTopic`).
   */
  async escalate(failedDeliveryIds: string[]): Promise<DeliveryJob[]> {
    if (failedDeliveryIds.length === 0) return [];
    return this.dataSource.transaction(async (tx) => {
      const rows = await queryRows<{ id: string; created_at: Date; status: string }>(
        tx,
        `UPDATE deliveries h
            SET status = CASE WHEN ${leftItsTopic('h', { keyed: true })} THEN 'cancelled' ELSE 'queued' END,
                next_attempt_at = CASE WHEN ${leftItsTopic('h', { keyed: true })} THEN NULL ELSE ${leaseEnd('now()', '$4')} END,
                updated_at = now()
           FROM (SELECT d.message_id, d.user_id, d.created_at, min(d.tier) AS tier
                   FROM ${DELIVERY_KEYS}
                   JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}
                  GROUP BY d.message_id, d.user_id, d.created_at) AS f
          WHERE h.message_id = f.message_id AND ${sameUser('h', 'f')} AND h.created_at = f.created_at AND ${inKeysRange('h')}
            AND h.status = 'held' AND h.tier > f.tier
            AND (h.expires_at IS NULL OR h.expires_at > now())
            AND NOT EXISTS (SELECT 1 FROM deliveries y
                             WHERE y.message_id = h.message_id AND ${sameUser('y', 'h')}
                               AND y.created_at = h.created_at AND ${inKeysRange('y')} AND y.tier < h.tier AND NOT ${GAVE_UP})
          RETURNING h.id, h.created_at, h.status`,
        [...deliveryKeys(keysOfIds(failedDeliveryIds)), RELEASE_LEASE_MS],
      );
      const released = rows.filter((row) => row.status === 'queued');
      await this.placeReleasedInInboxes(tx, released.map((r) => ({ id: r.id, createdAt: r.created_at })));
      return loadDeliveryJobs(tx, released.map((r) => ({ id: r.id, createdAt: r.created_at })));
    });
  }

  /**
   * After a delivery reached the user: the tiers above it will never be needed. That is the held ones,
   * and those already released and not sent yet — queued for their channel (whose claim then finds
   * them cancelled) or failed and waiting for a retry.
   */
  async cancelAbove(deliveredIds: string[]): Promise<number> {
    if (deliveredIds.length === 0) return 0;
    const rows = await queryRows<{ id: string }>(
      this.dataSource,
      `UPDATE deliveries h
          SET status = 'cancelled', next_attempt_at = NULL, updated_at = now()
         FROM (SELECT d.message_id, d.user_id, d.created_at, d.tier
                 FROM ${DELIVERY_KEYS}
                 JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}
                WHERE d.status IN ('delivered', 'read', 'clicked')) AS ok
        WHERE h.message_id = ok.message_id AND ${sameUser('h', 'ok')} AND h.created_at = ok.created_at AND ${inKeysRange('h')}
          AND h.status IN ('held', 'queued', 'failed') AND h.tier > ok.tier
        RETURNING h.id`,
      deliveryKeys(keysOfIds(deliveredIds)),
    );
    return rows.length;
  }

  /**
   * Releases held deliveries whose time has come, at most `limit`, skipping rows another instance
   * has locked. One whose lower tier already delivered, or whose user left the topic it went to, is
   * cancelled; one past its expiry expires —
   * also a tier that had no time of its own and waited for a lower tier that expired instead of
   * giving up.
   *
   * A tier's time counts from its lower tier's: it stays held while a lower tier of its message and
   * user is still held, and a tier released late (a scheduled send found by a scheduler that was
   * down, or behind a backlog) moves the times of the held tiers above it by as much. Otherwise one
   * late poll released every tier of a scheduled message at once, and an online user got the
   * browser message, the push and the SMS together.
   */
  async releaseDue(now: Date, limit: number): Promise<Released> {
    return this.release(RELEASE_DUE, now, [now, limit, RELEASE_LEASE_MS]);
  }

  /**
   * Releases (or cancels) held tiers with no time of their own whose lower tiers all ended at least
   * `STRANDED_AFTER_MS` before `now`: the event that should have moved them was lost (D18).
   */
  async releaseStranded(now: Date, limit: number): Promise<Released> {
    return this.release(
      `SELECT h.id, h.created_at FROM deliveries h
        WHERE h.status = 'held' AND h.next_attempt_at IS NULL
          -- OFFSET 0 keeps this a lookup per held row: as an anti-join it read every delivery.
          AND NOT EXISTS (${LOWER_TIER('h')} AND (y.updated_at > $1::timestamptz - $4 * interval '1 millisecond' OR NOT ${ENDED}) OFFSET 0)
        ORDER BY h.created_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      now,
      [now, limit, RELEASE_LEASE_MS, STRANDED_AFTER_MS],
    );
  }

  /**
   * Releases the held deliveries `due` selects and locks: one whose lower tier already delivered, or
   * whose user left its topic (`leftItsTopic`), is cancelled, one past its expiry expires, the others
   * are queued under a lease. `params` are `due`'s; the release reads `now` and the lease from them
   * too (`$1`, `$3`).
   */
  private async release(due: string, now: Date, params: unknown[]): Promise<Released> {
    return this.dataSource.transaction(async (tx) => {
      const rows = await queryRows<{ id: string; created_at: Date; status: string; request_id: string; message_id: string; user_id: string | null; channel: Channel; attempts: number }>(
        tx,
        `WITH due AS (${due}),
         decided AS (
           SELECT h.id, h.created_at, h.next_attempt_at AS planned, CASE
                    WHEN EXISTS (${LOWER_TIER('h')} AND y.status IN ('delivered', 'read', 'clicked')) OR ${leftItsTopic('h')} THEN 'cancelled'
                    WHEN h.expires_at IS NOT NULL AND h.expires_at <= $1 THEN 'expired'
                    ELSE 'queued' END AS status
             FROM due JOIN deliveries h ON h.id = due.id AND h.created_at = due.created_at),
         released AS (
           UPDATE deliveries h
              SET status = decided.status,
                  next_attempt_at = CASE WHEN decided.status = 'queued' THEN ${leaseEnd('$1::timestamptz', '$3')} END,
                  updated_at = now()
             FROM decided
            WHERE h.id = decided.id AND h.created_at = decided.created_at
            RETURNING h.id, h.created_at, h.status, h.message_id, h.user_id, h.channel, h.attempts, h.tier, decided.planned,
                      (SELECT request_id FROM messages m WHERE m.id = h.message_id AND m.created_at = h.created_at)),
         -- none of these is among the released: a tier above a held one is not taken. A tier of several
         -- deliveries (two devices) moves the ones above when its last delivery goes, once.
         later AS (
           UPDATE deliveries u
              SET next_attempt_at = u.next_attempt_at + ($1::timestamptz - r.planned), updated_at = now()
             FROM released r
            WHERE r.status = 'queued' AND r.planned < $1
              AND u.message_id = r.message_id AND ${sameUser('u', 'r')} AND u.created_at = r.created_at
              AND u.tier > r.tier AND u.status = 'held' AND u.next_attempt_at IS NOT NULL
              AND NOT EXISTS (${LOWER_TIER('u')} AND y.tier = r.tier AND y.status = 'held' AND y.id NOT IN (SELECT id FROM released)))
         SELECT * FROM released`,
        params,
      );
      const queued = rows.filter((r) => r.status === 'queued').map((r) => ({ id: r.id, createdAt: r.created_at }));
      await this.placeReleasedInInboxes(tx, queued);
      const expired: OutcomeEvent[] = await stageEvents(
        tx,
        rows.filter((r) => r.status === 'expired').map((r) => recordedOutcomeOf({ ...r, status: 'expired', last_error: null, updated_at: now })),
      );
      return { jobs: await loadDeliveryJobs(tx, queued), expired, taken: rows.length };
    });
  }

  /** A websocket delivery released late (a scheduled send) enters the inbox now, so sequence numbers follow release order. */
  private async placeReleasedInInboxes(tx: EntityManager, keys: DeliveryKey[]): Promise<void> {
    if (keys.length === 0) return;
    const missing = await queryRows<{ id: string; created_at: Date; user_id: string; message_id: string; locale: string }>(
      tx,
      `SELECT d.id, d.created_at, d.user_id, d.message_id, d.locale
         FROM ${DELIVERY_KEYS}
         JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}
        WHERE d.channel = 'websocket' AND d.user_id IS NOT NULL AND d.seq IS NULL`,
      deliveryKeys(keys),
    );
    if (missing.length === 0) return;
    const seqs = await placeInInboxes(
      tx,
      missing.map((m) => ({ userId: m.user_id, messageId: m.message_id, messageCreatedAt: m.created_at, locale: m.locale })),
    );
    await tx.query(
      `UPDATE deliveries d SET seq = s.seq FROM (${selectJsonRows(SEQ_COLUMNS)}) AS s
        WHERE d.id = s.id AND d.created_at = s.created_at AND ${inKeysRange('d')}`,
      keyedParams(
        missing.map((m) => [m.id, m.created_at, seqs.get(inboxKey(m.user_id, m.message_id))]),
        missing.map((m) => m.created_at),
      ),
    );
  }
}

const SEQ_COLUMNS = [
  ['id', 'uuid'],
  ['created_at', 'timestamptz'],
  ['seq', 'bigint'],
] as const satisfies readonly JsonColumn[];
