import type { DataSource } from 'typeorm';
import type { OutcomeStatus } from '@notify/contracts';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, keysOfIds } from './delivery-keys';
import { outcomeColumns, outcomeRows, recordedOutcomeOf, RETURNING_OUTCOME_BY_KEY, type RecordedOutcome, type RecordedRow } from './recorded-outcome';
import { queryRows } from './rows';
import { stageEvents } from './event-outbox';
import { leaseEnd } from './lease';
import { anotherTierReached } from './tiers';

export type { RecordedOutcome } from './recorded-outcome';

export interface DeliveryOutcome {
  deliveryId: string;
  status: OutcomeStatus;
  error: string | null;
  /**
   * The attempt the claim made. A failure is written only while the delivery is still `sent` on that
   * attempt: once its lease ran out the resend poller may have failed it and sent it again, and a
   * late write must not undo that. A delivery is recorded `delivered` whatever came since.
   */
  attempt?: number;
}

/** One claimed send: its attempt number and its lease's end (`LEASE_MICROS`). */
export interface SendClaim {
  attempt: number;
  lease: string;
}

/**
 * A delivery `d`'s lease end in microseconds since the epoch, as a bigint: exact, and the same
 * whatever a session's DateStyle or TimeZone (a timestamp's text is not).
 */
export const LEASE_MICROS = `(extract(epoch FROM d.next_attempt_at) * 1000000)::bigint`;

/**
 * A fallback tier whose first send would reach the user on a second channel: another tier of its
 * message delivered after it was released, and the cancel that event brings (`cancelAbove`) is still
 * on its way through Kafka. Tier 0, nearly every delivery, is not looked at: it is overtaken only
 * when its job waited longer than the route's `after`. (Written into each of the claim's three
 * CASEs, the look runs three times for a fallback tier and not at all for tier 0; a CTE of its own
 * ran it once but made every claim find its keys twice: 38 against 35 ms for 1,000 keys of tier 0.)
 */
const OVERTAKEN = `(d.tier > 0 AND ${anotherTierReached('d')})`;

/**
 * Queued deliveries become `sent` with one more attempt and a lease of `$4` ms in `next_attempt_at`;
 * `$1`–`$3` name them (`deliveryKeys`). The outcome clears the lease. A send whose outcome never comes
 * (the process died after the claim, or could not write the outcome) is found by the resend poller
 * once the lease has run out (`ResendStore.failUnanswered`), so it is retried instead of staying
 * `sent` for good. An overtaken tier becomes `cancelled` instead, and is not returned.
 */
const CLAIM = `WITH claimed AS (
       UPDATE deliveries d
          SET status = CASE WHEN ${OVERTAKEN} THEN 'cancelled' ELSE 'sent' END,
              attempts = CASE WHEN ${OVERTAKEN} THEN d.attempts ELSE d.attempts + 1 END,
              updated_at = now(),
              next_attempt_at = CASE WHEN ${OVERTAKEN} THEN NULL ELSE ${leaseEnd('now()', '$4')} END
         FROM ${DELIVERY_KEYS}
        WHERE d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')} AND d.status = 'queued'
        RETURNING d.id, d.status, d.attempts, ${LEASE_MICROS} AS lease)
     SELECT id, attempts, lease FROM claimed WHERE status = 'sent'`;

/** Writes channel outcomes in one statement per batch, their events staged in the outbox in the same transaction, and returns the events to publish. */
export class DeliveryOutcomeStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Takes queued deliveries for a send attempt: only deliveries still `queued` are returned, so a job
   * consumed twice (a replay, a rebalance) is sent once. Neither sender publishes the claim's `sent`
   * (the gateway: D13; the channel worker publishes one event per attempt once the provider answered,
   * D14), so only the claimed deliveries' attempt numbers come back, by id, without looking up their
   * messages for events.
   */
  async claimAttempts(deliveryIds: string[], leaseMs: number): Promise<Map<string, number>> {
    const claims = await this.claimSends(deliveryIds, leaseMs);
    return new Map([...claims].map(([id, claim]) => [id, claim.attempt]));
  }

  /**
   * The claim with each delivery's lease end too, for a sender that may give the attempt back (the
   * channel worker, D14). A given-back attempt's number is used again by the next claim, so only the
   * two together tell a claim from a later one.
   */
  async claimSends(deliveryIds: string[], leaseMs: number): Promise<Map<string, SendClaim>> {
    if (deliveryIds.length === 0) return new Map();
    const rows = await queryRows<{ id: string; attempts: number; lease: string }>(this.dataSource, CLAIM, [
      ...deliveryKeys(keysOfIds(deliveryIds)),
      leaseMs,
    ]);
    return new Map(rows.map((row) => [row.id, { attempt: row.attempts, lease: row.lease }]));
  }

  /** Records outcomes of sent deliveries; a delivered (or read, or clicked) one never moves back. */
  record(outcomes: DeliveryOutcome[]): Promise<RecordedOutcome[]> {
    return this.update(outcomes, 'true');
  }

  /**
   * Ends deliveries whose job came too late (`expired`) or cannot be sent (`dead`), if they are still
   * `queued`: a job consumed again (a replayed batch) must not end a delivery already sent and
   * waiting for its acknowledgement.
   */
  endQueued(outcomes: DeliveryOutcome[]): Promise<RecordedOutcome[]> {
    return this.update(outcomes, `d.status = 'queued'`);
  }

  /**
   * A tracked link of the delivery was followed: the delivery becomes `clicked` (a click is proof it
   * arrived, so also from `failed` or a retry in flight, which it ends; never from a tier held back,
   * or cancelled before it was ever sent or placed in the inbox, whose link was never shown; a browser
   * delivery cancelled while waiting for a retry is still in the inbox, its link on the sync page).
   * Returns where the link leads, and the event to publish for the first click only; undefined for a
   * delivery that is not kept (past retention) or has no link. With `record` false, only where it
   * leads (a HEAD request: a link checker, not a person).
   */
  async click(deliveryId: string, record = true): Promise<{ target: string; event: RecordedOutcome | undefined } | undefined> {
    const [key] = keysOfIds([deliveryId]);
    if (!key) return undefined;
    const row = await this.dataSource.transaction(async (tx) => {
      const [found] = await queryRows<RecordedRow & { target: string | null; clicked: boolean }>(
        tx,
        `WITH clicked AS (
           UPDATE deliveries d
              SET status = 'clicked', last_error = NULL, next_attempt_at = NULL, updated_at = now(), delivered_at = COALESCE(d.delivered_at, now())
            WHERE d.id = $1 AND d.created_at = $2 AND $3 AND d.status NOT IN ('clicked', 'held')
              AND NOT (d.status = 'cancelled' AND d.attempts = 0 AND d.seq IS NULL)
            RETURNING d.id)
         SELECT d.id, m.request_id, d.message_id, d.user_id, d.channel, 'clicked' AS status, d.attempts, NULL AS last_error, now() AS updated_at,
                m.contents -> d.locale ->> 'url' AS target, EXISTS (SELECT 1 FROM clicked) AS clicked
           FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at
          WHERE d.id = $1 AND d.created_at = $2`,
        [key.id, key.createdAt, record],
      );
      const event = found?.target && found.clicked ? recordedOutcomeOf(found) : undefined;
      if (event) await stageEvents(tx, [event]);
      return found && { target: found.target, event };
    });
    if (!row?.target) return undefined;
    return { target: row.target, event: row.event };
  }

  private async update(outcomes: DeliveryOutcome[], guard: string): Promise<RecordedOutcome[]> {
    if (outcomes.length === 0) return [];
    return this.dataSource.transaction(async (tx) => {
      const rows = await queryRows<RecordedRow>(
        tx,
        `UPDATE deliveries d
            SET status = o.status,
                last_error = o.error,
                updated_at = now(),
                -- the claim's lease ends; a new failure waits for the resend poller to give it its next attempt time
                next_attempt_at = NULL,
                delivered_at = CASE WHEN o.status = 'delivered' THEN now() ELSE d.delivered_at END
           FROM ${outcomeColumns(['status', 'varchar'], ['error', 'text'], ['attempt', 'int'])}
          WHERE d.id = o.id AND d.created_at = o.created_at AND ${inKeysRange('d')} AND d.status NOT IN ('delivered', 'read', 'clicked')
            AND (o.attempt IS NULL OR o.status = 'delivered' OR (d.status = 'sent' AND d.attempts = o.attempt)) AND ${guard}
          ${RETURNING_OUTCOME_BY_KEY}`,
        outcomeRows(outcomes, (o) => [o.status, o.error, o.attempt ?? null]),
      );
      return stageEvents(tx, rows.map(recordedOutcomeOf));
    });
  }
}


