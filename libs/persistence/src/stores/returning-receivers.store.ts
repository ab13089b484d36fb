import type { DataSource } from 'typeorm';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange } from './delivery-keys';
import { queryRows } from './rows';

/**
 * Finds and locks the failed browser deliveries of the users `$1` still waiting for their retry,
 * through `ix_deliveries_pending_receiver` (user, channel), which holds only the rows in the
 * resend path: the conditions are that index's predicate, and the time is a CASE on purpose, as in
 * the resend claim's search. Written as a plain comparison, the planner read every pending delivery
 * through the indexes on `next_attempt_at` instead, and filtered them by user (28 ms against 2 for
 * 200 users among 80,000 pending deliveries). A browser's failures are all its own (`offline`,
 * `ack_timeout`, `client_error`): none is a wait a provider set, which the claim keeps (`IMPOSED_WAITS`).
 * SKIP LOCKED, as every lock the claim takes: a row another transaction holds is being claimed,
 * acknowledged or read, and this neither waits for it nor deadlocks with it.
 */
const AWAITING_RETRY = `SELECT p.id, p.created_at FROM deliveries p
      WHERE p.user_id = ANY($1::varchar[]) AND p.channel = 'websocket'
        AND p.status IN ('failed', 'queued') AND p.next_attempt_at IS NOT NULL
        AND CASE p.status WHEN 'failed' THEN p.next_attempt_at > now() ELSE false END
      FOR UPDATE OF p SKIP LOCKED`;

/**
 * The rows `AWAITING_RETRY` found become due now: a write by key (architecture D17). Joined to the
 * search in one statement, the planner read every delivery to hash-join them. By the database's
 * clock, which the leases are written by: by the gateway's, a host ahead of it made them due only
 * that much later.
 */
const DUE_NOW = `UPDATE deliveries d SET next_attempt_at = now(), updated_at = now()
   FROM ${DELIVERY_KEYS}
  WHERE d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}`;

/**
 * Users whose browser has just connected. The browser module syncs on every connection and shows what
 * it missed, but a sync reads the inbox only: the deliveries stay `failed` until the resend poller
 * sends them again and the browser acknowledges, after their backoff (up to the retry policy's
 * `maxBackoff`, an hour by default). Meanwhile no lower tier counted as delivered, and the route's
 * next tier went out: an SMS for a message on the screen.
 */
export class ReturningReceiversStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Makes the failed browser deliveries of `userIds` due now, so the resend poller's next claim
   * sends each user's as one batch, which the browser acknowledges at once: `delivered`, and the tiers
   * above are cancelled. Only their time changes: not their attempts, and a `queued` delivery (under
   * a lease) or an ended one is left alone. Returns how many it made due.
   */
  async makeDue(userIds: string[]): Promise<number> {
    if (userIds.length === 0) return 0;
    return this.dataSource.transaction(async (tx) => {
      const found = await queryRows<{ id: string; created_at: Date }>(tx, AWAITING_RETRY, [userIds]);
      if (found.length === 0) return 0;
      await tx.query(DUE_NOW, deliveryKeys(found.map((row) => ({ id: row.id, createdAt: row.created_at }))));
      return found.length;
    });
  }
}
