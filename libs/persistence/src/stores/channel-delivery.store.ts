import type { DataSource, EntityManager } from 'typeorm';
import type { OutcomeStatus } from '@notify/contracts';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, keysOfIds } from './delivery-keys';
import { DEFAULT_RETRY } from './backoff';
import { LEASE_MICROS } from './delivery-outcome.store';
import { outcomeColumns, outcomeRows, recordedOutcomeOf, RETURNING_OUTCOME, RETURNING_OUTCOME_BY_KEY, type RecordedOutcome, type RecordedRow } from './recorded-outcome';
import { REGISTRATION_MICROS } from './push-device.store';
import { jsonRows, queryRows, selectJsonRows } from './rows';
import { stageEvents } from './event-outbox';

/** What became of one provider send: accepted (`sent`), to be retried (`failed`), or given up (`dead`). */
export interface ChannelOutcome {
  deliveryId: string;
  status: Extract<OutcomeStatus, 'sent' | 'failed' | 'dead'>;
  error: string | null;
  /** When a `failed` delivery may be re-sent; null for the others. */
  nextAttemptAt: Date | null;
  /**
   * The attempt the claim made: the outcome is written only while the delivery is still `sent` on
   * it, so a batch that outlived its lease does not undo the resend poller's retry.
   */
  attempt?: number;
  /**
   * The claim's lease end as `claimSends` returned it. After a given-back attempt the next claim has
   * the same attempt number; the lease tells them apart, so a write retried after its commit went
   * through (the answer lost) cannot fail a later claim's send.
   */
  lease?: string;
  /** False when the send never reached the vendor (refused by the platform's own limits, or by an open circuit): the claim's attempt is given back. */
  attempted?: boolean;
  /** For a send accepted by a provider that sends delivery receipts: what its receipts will name it by (architecture D24). */
  receiptKey?: string;
}

/** A vendor's word on an earlier send, from its delivery receipt (architecture D24). */
export interface ReceiptOutcome {
  /** As the send's `ChannelOutcome.receiptKey` was. */
  receiptKey: string;
  /** `failed`: it did not arrive, retried as the route says; `dead`: it never will (an unknown number). */
  status: Extract<OutcomeStatus, 'delivered' | 'failed' | 'dead'>;
  error: string | null;
  /** When the vendor says it was delivered; the receipt's arrival when it does not say. */
  deliveredAt: Date | null;
  /**
   * For a push whose token the vendor says will never work again: its device, deactivated when the
   * receipt names a send of ours, unless it was registered again after `seenAt`.
   */
  deactivation?: { provider: string; token: string; reason: string; seenAt: Date };
}

/** A device whose token the provider called dead; only this token is deactivated, not one registered since. */
export interface DeviceDeactivation {
  userId: string;
  deviceId: string;
  token: string;
  reason: string;
  /** The registration the send used (`PushDevice.registration`): a newer one is left active. */
  registration: string;
}



/**
 * A failure with a wait of its provider's (a Retry-After, an hour after a configuration error) whose
 * attempt was the message's last: `dead` now. Left `failed`, it stayed so until the wait was over
 * (up to a day) and only then was ended by the resend poller, and the route's next tier waited as
 * long. A failure without a wait is ended by the resend poller at once (`scheduleFailed`). The
 * message's policy is read only for such failures, in the partitions of the keys (D17).
 */
const OUT_OF_ATTEMPTS = `(o.status = 'failed' AND o.next_attempt_at IS NOT NULL AND o.attempted
       AND d.attempts >= COALESCE((SELECT (m.retry ->> 'maxAttempts')::int FROM messages m
                                    WHERE m.id = d.message_id AND m.created_at = d.created_at AND ${inKeysRange('m')}), ${DEFAULT_RETRY.maxAttempts}))`;

/**
 * The channel worker's writes: expiring jobs that came too late, and recording provider outcomes
 * with their retry time together with the device tokens they killed, one statement each per batch,
 * their events staged in the outbox in the same transaction (architecture D18).
 */
export class ChannelDeliveryStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Queued deliveries past their expiry become `expired` instead of being sent, with no error: a
   * retry's row still held its last attempt's (`unavailable`), which its `expired` event carried,
   * where every other path that expires a delivery publishes none.
   */
  async expire(deliveryIds: string[]): Promise<RecordedOutcome[]> {
    if (deliveryIds.length === 0) return [];
    return this.dataSource.transaction(async (tx) => {
      const rows = await queryRows<RecordedRow>(
        tx,
        `UPDATE deliveries d
            SET status = 'expired', last_error = NULL, next_attempt_at = NULL, updated_at = now()
           FROM ${DELIVERY_KEYS}
          WHERE d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')} AND d.status = 'queued'
          ${RETURNING_OUTCOME_BY_KEY}`,
        deliveryKeys(keysOfIds(deliveryIds)),
      );
      return stageEvents(tx, rows.map(recordedOutcomeOf));
    });
  }

  /**
   * Records send outcomes and deactivates dead device tokens in one transaction. A delivery that a
   * receipt already made `delivered` (or read, or clicked) never moves back.
   */
  async record(outcomes: ChannelOutcome[], deactivations: DeviceDeactivation[] = []): Promise<RecordedOutcome[]> {
    if (outcomes.length === 0 && deactivations.length === 0) return [];
    return this.dataSource.transaction(async (tx) => {
      await deactivate(tx, deactivations);
      if (outcomes.length === 0) return [];
      const rows = await queryRows<RecordedRow>(
        tx,
        `UPDATE deliveries d
            SET status = CASE WHEN ${OUT_OF_ATTEMPTS} THEN 'dead' ELSE o.status END,
                next_attempt_at = CASE WHEN ${OUT_OF_ATTEMPTS} THEN NULL ELSE o.next_attempt_at END,
                last_error = o.error, updated_at = now(),
                attempts = d.attempts - CASE WHEN o.attempted THEN 0 ELSE 1 END,
                receipt_key = COALESCE(o.receipt_key, d.receipt_key)
           FROM ${outcomeColumns(['status', 'varchar'], ['error', 'text'], ['next_attempt_at', 'timestamptz'], ['attempt', 'int'], ['attempted', 'boolean'], ['lease', 'bigint'], ['receipt_key', 'varchar'])}
          WHERE d.id = o.id AND d.created_at = o.created_at AND ${inKeysRange('d')} AND d.status NOT IN ('delivered', 'read', 'clicked')
            AND (o.attempt IS NULL OR (d.status = 'sent' AND d.attempts = o.attempt AND (o.lease IS NULL OR ${LEASE_MICROS} = o.lease)))
          ${RETURNING_OUTCOME_BY_KEY}`,
        outcomeRows(outcomes, (o) => [o.status, o.error, o.nextAttemptAt, o.attempt ?? null, o.attempted ?? true, o.lease ?? null, o.receiptKey ?? null]),
      );
      const keys = outcomes.flatMap((o) => o.receiptKey ?? []);
      const early = keys.length === 0 ? [] : await applyWaitingReceipts(tx, keys);
      return stageEvents(tx, [...rows, ...early].map(recordedOutcomeOf));
    });
  }

  /**
   * Applies delivery receipts to the sends they name, their events staged in the same transaction.
   * `delivered` holds whatever the delivery became since, but for a client's own word (delivered,
   * read, clicked): the message did arrive, so a retry under way or a give-up was about nothing. A
   * failure counts only while the send it names is the delivery's last and nothing is under way:
   * `sent`, recorded (no lease). It leaves the delivery `failed` with no retry time, which the resend
   * poller turns into the route's backoff or `dead`, as a failure at the send is. A receipt for a send
   * that a later accepted attempt replaced changes nothing. One for a send not recorded yet (vendors
   * answer within seconds, a chunk is recorded after its slowest send) waits in `waiting_receipts`
   * for that record; each call also applies the waiting receipts whose sends were recorded since
   * (one that raced its record), and forgets those a day old.
   */
  async receive(receipts: ReceiptOutcome[]): Promise<ReceiptsTaken> {
    if (receipts.length === 0) return { events: [], matched: new Set(), waiting: new Set() };
    return this.dataSource.transaction(async (tx) => {
      const param = jsonRows(receipts.map((r) => [r.receiptKey, r.status, r.error, r.deliveredAt]));
      const rows = await queryRows<ReceiptRow>(tx, applyReceipts(`(${selectJsonRows(RECEIPT_COLUMNS)})`), [param]);
      const matched = new Set(rows.map((row) => row.receipt_key));
      const kept = receipts.some((r) => !matched.has(r.receiptKey))
        ? await queryRows<{ receipt_key: string }>(
            tx,
            `INSERT INTO waiting_receipts (receipt_key, status, error, delivered_at)
             SELECT DISTINCT ON (r.receipt_key) r.receipt_key, r.status, r.error, r.delivered_at
               FROM (${selectJsonRows(RECEIPT_COLUMNS)}) AS r
              WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.receipt_key = r.receipt_key)
              ORDER BY r.receipt_key, r.status = 'delivered' DESC
             ON CONFLICT (receipt_key) DO UPDATE SET status = EXCLUDED.status, error = EXCLUDED.error, delivered_at = EXCLUDED.delivered_at, received_at = now()
              WHERE waiting_receipts.status <> 'delivered'
             RETURNING receipt_key`,
            [param],
          )
        : [];
      await deactivateGoneTokens(tx, receipts.flatMap((r) => (r.deactivation && matched.has(r.receiptKey) ? [r.deactivation] : [])));
      const raced = await queryRows<ReceiptRow>(tx, applyReceipts('waiting_receipts'), []);
      await tx.query(
        `DELETE FROM waiting_receipts w
          WHERE w.received_at < now() - interval '1 day' OR EXISTS (SELECT 1 FROM deliveries d WHERE d.receipt_key = w.receipt_key)`,
      );
      const events = await stageEvents(tx, [...rows, ...raced].map(recordedOutcomeOf));
      return { events, matched, waiting: new Set(kept.map((row) => row.receipt_key)) };
    });
  }
}

/** What a call of `receive` did: the events of the changes, the receipt keys that changed a delivery, and those kept waiting for their send's record. */
export interface ReceiptsTaken {
  events: RecordedOutcome[];
  matched: Set<string>;
  waiting: Set<string>;
}

type ReceiptRow = RecordedRow & { receipt_key: string };

const RECEIPT_COLUMNS = [
  ['receipt_key', 'varchar'],
  ['status', 'varchar'],
  ['error', 'text'],
  ['delivered_at', 'timestamptz'],
] as const;

/** Applies the receipts of `source` (rows of `RECEIPT_COLUMNS`) to the sends they name, by `ChannelDeliveryStore.receive`'s rules. */
function applyReceipts(source: string): string {
  return `UPDATE deliveries d
             SET status = r.status, last_error = r.error, next_attempt_at = NULL, updated_at = now(),
                 delivered_at = CASE WHEN r.status = 'delivered' THEN COALESCE(r.delivered_at, now()) ELSE d.delivered_at END
            FROM ${source} AS r
           WHERE d.receipt_key = r.receipt_key
             AND CASE WHEN r.status = 'delivered' THEN d.status NOT IN ('delivered', 'read', 'clicked')
                      ELSE d.status = 'sent' AND d.next_attempt_at IS NULL END
          ${RETURNING_OUTCOME}, r.receipt_key`;
}

/** Deactivates the devices of tokens a receipt called gone (`ReceiptOutcome.deactivation`). */
async function deactivateGoneTokens(tx: EntityManager, gone: NonNullable<ReceiptOutcome['deactivation']>[]): Promise<void> {
  if (gone.length === 0) return;
  await tx.query(
    `UPDATE devices v
        SET active = false, deactivated_reason = x.reason, updated_at = now()
       FROM unnest($1::varchar[], $2::varchar[], $3::text[], $4::timestamptz[]) AS x(provider, token, reason, seen_at)
      WHERE v.provider = x.provider AND md5(v.token) = md5(x.token) AND v.token = x.token AND v.active AND v.updated_at < x.seen_at`,
    [gone.map((g) => g.provider), gone.map((g) => g.token), gone.map((g) => g.reason), gone.map((g) => g.seenAt)],
  );
}

/** The receipts that came before the record of their sends (`keys`), applied now and forgotten. */
async function applyWaitingReceipts(tx: EntityManager, keys: string[]): Promise<RecordedRow[]> {
  const rows = await queryRows<ReceiptRow>(tx, applyReceipts(`(SELECT * FROM waiting_receipts WHERE receipt_key = ANY($1::varchar[]))`), [keys]);
  if (rows.length > 0) await tx.query(`DELETE FROM waiting_receipts WHERE receipt_key = ANY($1::varchar[])`, [keys]);
  return rows;
}

async function deactivate(tx: EntityManager, deactivations: DeviceDeactivation[]): Promise<void> {
  if (deactivations.length === 0) return;
  await tx.query(
    `UPDATE devices v
        SET active = false, deactivated_reason = x.reason, updated_at = now()
       FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::text[], $5::bigint[]) AS x(user_id, device_id, token, reason, registration)
      WHERE v.user_id = x.user_id AND v.device_id = x.device_id AND v.token = x.token AND v.active AND ${REGISTRATION_MICROS} = x.registration`,
    [
      deactivations.map((d) => d.userId),
      deactivations.map((d) => d.deviceId),
      deactivations.map((d) => d.token),
      deactivations.map((d) => d.reason),
      deactivations.map((d) => d.registration),
    ],
  );
}


