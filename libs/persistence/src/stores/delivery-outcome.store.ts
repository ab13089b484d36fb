import type { DataSource } from 'typeorm';
import type { Channel, OutcomeEvent, OutcomeStatus } from '@notify/contracts';
import { queryRows } from './rows';

export interface DeliveryOutcome {
  deliveryId: string;
  status: OutcomeStatus;
  error: string | null;
}

interface RecordedRow {
  id: string;
  request_id: string;
  message_id: string;
  user_id: string | null;
  channel: Channel;
  status: OutcomeStatus;
  attempts: number;
  last_error: string | null;
  updated_at: Date;
}

/** Writes channel outcomes in one statement per batch and returns the events to publish. */
export class DeliveryOutcomeStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Takes queued deliveries for a send attempt. Only deliveries still `queued` are returned,
   * so a job consumed twice (a replay, a rebalance) is sent once.
   */
  async claim(deliveryIds: string[]): Promise<(OutcomeEvent & { deliveryId: string })[]> {
    if (deliveryIds.length === 0) return [];
    const rows = await queryRows<RecordedRow>(
      this.dataSource,
      `UPDATE deliveries d
          SET status = 'sent', attempts = d.attempts + 1, updated_at = now()
         FROM messages m
        WHERE d.id = ANY($1::uuid[]) AND d.status = 'queued' AND m.id = d.message_id
        RETURNING d.id, m.request_id, d.message_id, d.user_id, d.channel, d.status, d.attempts, d.last_error, d.updated_at`,
      [deliveryIds],
    );
    return rows.map(toEvent);
  }

  /** Records final or failed outcomes of sent deliveries; a delivered one is never moved back. */
  async record(outcomes: DeliveryOutcome[]): Promise<(OutcomeEvent & { deliveryId: string })[]> {
    if (outcomes.length === 0) return [];
    const rows = await queryRows<RecordedRow>(
      this.dataSource,
      `UPDATE deliveries d
          SET status = o.status,
              last_error = o.error,
              updated_at = now(),
              delivered_at = CASE WHEN o.status = 'delivered' THEN now() ELSE d.delivered_at END
         FROM unnest($1::uuid[], $2::varchar[], $3::text[]) AS o(id, status, error), messages m
        WHERE d.id = o.id AND d.status NOT IN ('delivered', 'read', 'clicked') AND m.id = d.message_id
        RETURNING d.id, m.request_id, d.message_id, d.user_id, d.channel, d.status, d.attempts, d.last_error, d.updated_at`,
      [outcomes.map((o) => o.deliveryId), outcomes.map((o) => o.status), outcomes.map((o) => o.error)],
    );
    return rows.map(toEvent);
  }
}

function toEvent(row: RecordedRow): OutcomeEvent & { deliveryId: string } {
  return {
    deliveryId: row.id,
    requestId: row.request_id,
    messageId: row.message_id,
    userId: row.user_id,
    channel: row.channel,
    status: row.status,
    attempt: row.attempts,
    at: row.updated_at.toISOString(),
    error: row.last_error,
  };
}
