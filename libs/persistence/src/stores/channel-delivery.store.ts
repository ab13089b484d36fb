import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { OutcomeStatus } from '@notify/contracts';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, keysOfIds } from './delivery-keys';
import { DEFAULT_RETRY } from './backoff';
import { LEASE_MICROS } from './delivery-outcome.store';
import { outcomeColumns, outcomeRows, recordedOutcomeOf, RETURNING_OUTCOME, RETURNING_OUTCOME_BY_KEY, type RecordedOutcome, type RecordedRow } from './recorded-outcome';
import { REGISTRATION_MICROS } from './push-device.store';
import { columnNames, jsonRows, queryRows, selectJsonRows } from './rows';
import { stageEvents } from './event-outbox';
import { leaseEnd } from './lease';

/** What became of one provider send: accepted (`sent`), to be retried (`failed`), or given up (`dead`). */
export interface ChannelOutcome {
  deliveryId: string;
  status: Extract<OutcomeStatus, 'sent' | 'failed' | 'dead' | 'expired'>;
  error: string | null;
  /**
   * How long a `failed` delivery waits before it may be re-sent, in milliseconds; null for the others,
   * and for a failure with no wait of its own (the resend poller gives it the route's backoff). A
   * length of time, not a time: the record counts it from the database's clock, by which the resend
   * poller takes it up (D16), and ends it at the message's expiry. A time on the channel worker's
   * clock, a minute behind the database's, made a vendor's `Retry-After: 60` due at once.
   */
  waitMs: number | null;
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



/** The attempts the message of delivery `d` allows (its retry policy's, else the default); `within` narrows the lookup to partitions. */
const maxAttemptsOf = (within = ''): string =>
  `COALESCE((SELECT (m.retry ->> 'maxAttempts')::int FROM messages m WHERE m.id = d.message_id AND m.created_at = d.created_at ${within}), ${DEFAULT_RETRY.maxAttempts})`;

/**
 * A failure with a wait of its provider's (a Retry-After, an hour after a configuration error) whose
 * attempt was the message's last: `dead` now. Left `failed`, it stayed so until the wait was over
 * (up to a day) and only then was ended by the resend poller, and the route's next tier waited as
 * long. A failure without a wait is ended by the resend poller at once (`scheduleFailed`). The
 * message's policy is read only for such failures, in the partitions of the keys (D17).
 */
const OUT_OF_ATTEMPTS = `(o.status = 'failed' AND o.wait_ms IS NOT NULL AND o.attempted
       AND d.attempts >= ${maxAttemptsOf(`AND ${inKeysRange('m')}`)})`;

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
   * receipt already made `delivered` (or read, or clicked) never moves back. A failure's wait runs
   * from the database's `now()` to its message's expiry at the latest, so an expired message is
   * ended when it expires.
   */
  async record(outcomes: ChannelOutcome[], deactivations: DeviceDeactivation[] = []): Promise<RecordedOutcome[]> {
    if (outcomes.length === 0 && deactivations.length === 0) return [];
    return this.dataSource.transaction(async (tx) => {
      // The keys' locks before any row's, as `receive` takes them: it then writes deliveries and devices.
      // Shared: records never share a key (each names its own send), so only a receipt waits for one.
      const keys = outcomes.flatMap((o) => o.receiptKey ?? []);
      if (keys.length > 0) await lockReceiptKeys(tx, keys, 'shared');
      await deactivate(tx, deactivations);
      if (outcomes.length === 0) return [];
      const rows = await queryRows<RecordedRow>(
        tx,
        `UPDATE deliveries d
            SET status = CASE WHEN ${OUT_OF_ATTEMPTS} THEN 'dead' ELSE o.status END,
                next_attempt_at = CASE WHEN ${OUT_OF_ATTEMPTS} OR o.wait_ms IS NULL THEN NULL ELSE LEAST(${leaseEnd('now()', 'o.wait_ms')}, d.expires_at) END,
                last_error = o.error, updated_at = now(),
                attempts = d.attempts - CASE WHEN o.attempted THEN 0 ELSE 1 END,
                -- An accepted send replaces the key, with none when its provider gives none: a receipt for an
                -- earlier send must not fail it. A refused one keeps it, so that send's late delivery still counts.
                receipt_key = CASE WHEN o.status = 'sent' THEN o.receipt_key ELSE d.receipt_key END
           FROM ${outcomeColumns(['status', 'varchar'], ['error', 'text'], ['wait_ms', 'double precision'], ['attempt', 'int'], ['attempted', 'boolean'], ['lease', 'bigint'], ['receipt_key', 'varchar'])}
          WHERE d.id = o.id AND d.created_at = o.created_at AND ${inKeysRange('d')} AND d.status NOT IN ('delivered', 'read', 'clicked')
            AND (o.attempt IS NULL OR (d.status = 'sent' AND d.attempts = o.attempt AND (o.lease IS NULL OR ${LEASE_MICROS} = o.lease)))
          ${RETURNING_OUTCOME_BY_KEY}`,
        outcomeRows(outcomes, (o) => [o.status, o.error, o.waitMs, o.attempt ?? null, o.attempted ?? true, o.lease ?? null, o.receiptKey ?? null]),
      );
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
   * that a later accepted attempt replaced changes nothing. Of several receipts for one send in a
   * call, `delivered` wins. One for a send not recorded yet (vendors answer within seconds, a chunk
   * is recorded after its slowest send) waits in `waiting_receipts` for that record, at most a day:
   * the two take the keys' locks first (`lockReceiptKeys`), so one of them always sees the other.
   */
  async receive(receipts: ReceiptOutcome[], options: ReceiveOptions = {}): Promise<ReceiptsTaken> {
    if (receipts.length === 0) return { events: [], applied: new Map(), waiting: new Set() };
    return this.dataSource.transaction(async (tx) => {
      await lockReceiptKeys(tx, receipts.map((r) => r.receiptKey), 'exclusive');
      const param = jsonRows(receipts.map(receiptRow));
      const rows = await applyReceipts(tx, `(${selectJsonRows(RECEIPT_COLUMNS)})`, [param], options.configurationRetryMs ?? null);
      const applied = new Map(rows.map((row) => [row.receipt_key, row.receipt_status]));
      const kept = receipts.some((r) => !applied.has(r.receiptKey))
        ? await queryRows<{ receipt_key: string }>(
            tx,
            `INSERT INTO waiting_receipts (${columnNames(RECEIPT_COLUMNS)})
             SELECT DISTINCT ON (r.receipt_key) r.*
               FROM (${selectJsonRows(RECEIPT_COLUMNS)}) AS r
              WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.receipt_key = r.receipt_key)
              ORDER BY r.receipt_key, ${DELIVERED_FIRST}
             ON CONFLICT (receipt_key) DO UPDATE
                SET ${RECEIPT_COLUMNS.slice(1).map(([name]) => `${name} = EXCLUDED.${name}`).join(', ')}, received_at = now()
              WHERE waiting_receipts.status <> 'delivered'
             RETURNING receipt_key`,
            [param],
          )
        : [];
      // Rows another request or record holds are left to the next: waiting on them could deadlock.
      await tx.query(
        `DELETE FROM waiting_receipts WHERE receipt_key IN (
           SELECT receipt_key FROM waiting_receipts WHERE received_at < now() - interval '1 day' FOR UPDATE SKIP LOCKED)`,
      );
      const events = await stageEvents(tx, rows.map(recordedOutcomeOf));
      return { events, applied, waiting: new Set(kept.map((row) => row.receipt_key)) };
    });
  }
}

export interface ReceiveOptions {
  /**
   * When a failure that blames this installation's setup (`misconfigured`) is retried, as the send's
   * own configuration refusals are: an operator's fix takes longer than the route's backoff, which
   * would spend the attempts within minutes. Unset: the route's backoff. A length of time, counted
   * from the database's clock, by which the resend poller takes it up (D16).
   */
  configurationRetryMs?: number;
}

/**
 * What a call of `receive` did: the events of the changes, the status each receipt key gave its
 * deliveries (the one that won, when a call had several for a key), and the keys kept waiting for
 * their send's record.
 */
export interface ReceiptsTaken {
  events: RecordedOutcome[];
  applied: Map<string, string>;
  waiting: Set<string>;
}

/** A receipt's columns; a gone token is named by its md5, as `push_tokens` names tokens: no token is stored again. */
const RECEIPT_COLUMNS = [
  ['receipt_key', 'varchar'],
  ['status', 'varchar'],
  ['error', 'text'],
  ['delivered_at', 'timestamptz'],
  ['gone_provider', 'varchar'],
  ['gone_token_md5', 'varchar'],
  ['gone_reason', 'text'],
  ['seen_at', 'timestamptz'],
] as const;

function receiptRow(r: ReceiptOutcome): unknown[] {
  const gone = r.deactivation;
  return [
    r.receiptKey,
    r.status,
    r.error,
    r.deliveredAt,
    gone?.provider ?? null,
    gone ? createHash('md5').update(gone.token).digest('hex') : null,
    gone?.reason ?? null,
    gone?.seenAt ?? null,
  ];
}

/**
 * Of several receipts for one send, `delivered` first (the message did arrive, whatever else was
 * said of it), then `dead` (it never will), then `failed`.
 */
const DELIVERED_FIRST = `CASE r.status WHEN 'delivered' THEN 0 WHEN 'dead' THEN 1 ELSE 2 END`;

/** Lock class of the receipt keys (`lockReceiptKeys`). */
const RECEIPT_KEY_LOCK_CLASS = 0x7263; // 'rc'

/**
 * The keys' locks are this many buckets (a power of two): a chunk of 1,000 pushes has 1,000 keys,
 * and a lock each, taken by many workers at once, filled PostgreSQL's shared lock table
 * (`max_locks_per_transaction` × connections), failing every transaction that needed a lock. Keys
 * sharing a bucket only wait for each other.
 */
export const RECEIPT_KEY_LOCK_BUCKETS = 256;

/**
 * Takes a transaction lock on each receipt key, in one order. `record` takes them before it writes
 * the keys and looks for waiting receipts, `receive` before it looks for the keys and keeps what
 * found none: without them each could run between the other's statements, at READ COMMITTED, and a
 * receipt was kept by neither. A record's are shared: exclusive, every record of a vendor with
 * receipts waited for every other under way (a chunk of 1,000 pushes has keys in almost every bucket).
 */
async function lockReceiptKeys(tx: EntityManager, keys: string[], mode: 'shared' | 'exclusive'): Promise<void> {
  await tx.query(
    `SELECT pg_advisory_xact_lock${mode === 'shared' ? '_shared' : ''}(${RECEIPT_KEY_LOCK_CLASS}, k)
       FROM (SELECT DISTINCT hashtext(key) & ${RECEIPT_KEY_LOCK_BUCKETS - 1} AS k FROM unnest($1::text[]) AS key ORDER BY 1) AS keys`,
    [keys],
  );
}

type ReceiptRow = RecordedRow & { receipt_key: string; receipt_status: string; gone_provider: string | null; gone_token_md5: string | null; gone_reason: string | null; seen_at: Date | null };

/**
 * Applies the receipts of `source` (rows of `RECEIPT_COLUMNS`) to the sends they name, by
 * `ChannelDeliveryStore.receive`'s rules, and deactivates the devices of the tokens they called gone.
 */
async function applyReceipts(tx: EntityManager, source: string, params: unknown[], configurationRetryMs: number | null): Promise<ReceiptRow[]> {
  // A misconfigured failure waits that long, or until its message's expiry if sooner (the resend claim
  // keeps it to that time), unless its attempt was the message's last: without a time the resend poller
  // ends it `dead` at once (`scheduleFailed`), as it gives any other failure the route's backoff.
  const retryMs = `$${params.length + 1}::double precision`;
  const waitsForConfiguration = `r.status = 'failed' AND r.error = 'misconfigured' AND ${retryMs} IS NOT NULL
            AND d.attempts < ${maxAttemptsOf()}`;
  const rows = await queryRows<ReceiptRow>(
    tx,
    `UPDATE deliveries d
        SET status = r.status, last_error = r.error, updated_at = now(),
            next_attempt_at = CASE WHEN ${waitsForConfiguration} THEN LEAST(${leaseEnd('now()', retryMs)}, d.expires_at) END,
            delivered_at = CASE WHEN r.status = 'delivered' THEN COALESCE(r.delivered_at, now()) ELSE d.delivered_at END
       FROM (SELECT DISTINCT ON (r.receipt_key) r.* FROM ${source} AS r ORDER BY r.receipt_key, ${DELIVERED_FIRST}) AS r
      WHERE d.receipt_key = r.receipt_key
        AND CASE WHEN r.status = 'delivered' THEN d.status NOT IN ('delivered', 'read', 'clicked')
                 ELSE d.status = 'sent' AND d.next_attempt_at IS NULL END
     ${RETURNING_OUTCOME}, r.receipt_key, r.status AS receipt_status, r.gone_provider, r.gone_token_md5, r.gone_reason, r.seen_at`,
    [...params, configurationRetryMs],
  );
  const gone = rows.filter((row) => row.gone_provider !== null && row.gone_token_md5 !== null && row.seen_at !== null);
  if (gone.length > 0) {
    const params = [gone.map((g) => g.gone_provider), gone.map((g) => g.gone_token_md5), gone.map((g) => g.gone_reason), gone.map((g) => g.seen_at)];
    const goneTokens = `unnest($1::varchar[], $2::varchar[], $3::text[], $4::timestamptz[]) AS x(provider, token_md5, reason, seen_at)`;
    // The rows in one order first: two requests ending the same tokens in other orders deadlocked.
    await tx.query(
      `SELECT 1 FROM devices v WHERE (v.provider, md5(v.token)) IN (SELECT x.provider, x.token_md5 FROM ${goneTokens}) AND v.active
        ORDER BY v.provider, md5(v.token), v.user_id, v.device_id FOR UPDATE`,
      params,
    );
    // A registration made after the vendor saw the token gone (a reinstall that got the same token) is left active.
    await tx.query(
      `UPDATE devices v
          SET active = false, deactivated_reason = x.reason, updated_at = now()
           FROM ${goneTokens}
        WHERE v.provider = x.provider AND md5(v.token) = x.token_md5 AND v.active AND v.registered_at < x.seen_at`,
      params,
    );
  }
  return rows;
}

/** The receipts that came before the record of their sends (`keys`, locked by the record), applied now and forgotten. */
async function applyWaitingReceipts(tx: EntityManager, keys: string[]): Promise<RecordedRow[]> {
  // A bounce seldom comes before its mail's record; one that blames the installation then takes the route's backoff.
  const rows = await applyReceipts(tx, `(SELECT * FROM waiting_receipts WHERE receipt_key = ANY($1::varchar[]))`, [keys], null);
  await tx.query(`DELETE FROM waiting_receipts WHERE receipt_key = ANY($1::varchar[])`, [keys]);
  return rows;
}

async function deactivate(tx: EntityManager, deactivations: DeviceDeactivation[]): Promise<void> {
  if (deactivations.length === 0) return;
  const given = `unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::text[], $5::bigint[]) AS x(user_id, device_id, token, reason, registration)`;
  const matching = `v.user_id = x.user_id AND v.device_id = x.device_id AND v.token = x.token AND v.active AND ${REGISTRATION_MICROS} = x.registration`;
  const params = [
    deactivations.map((d) => d.userId),
    deactivations.map((d) => d.deviceId),
    deactivations.map((d) => d.token),
    deactivations.map((d) => d.reason),
    deactivations.map((d) => d.registration),
  ];
  // The rows in the order a receipt's deactivation takes them (`applyReceipts`): in the order of the
  // jobs, a record and a receipt ending the same tokens deadlocked.
  await tx.query(`SELECT 1 FROM devices v, ${given} WHERE ${matching} ORDER BY v.provider, md5(v.token), v.user_id, v.device_id FOR UPDATE OF v`, params);
  await tx.query(
    `UPDATE devices v
        SET active = false, deactivated_reason = x.reason, updated_at = now()
       FROM ${given}
      WHERE ${matching}`,
    params,
  );
}


