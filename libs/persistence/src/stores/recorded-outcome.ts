import type { Channel, OutcomeEvent, OutcomeStatus } from '@notify/contracts';
import { timeOfId } from '../ids';
import { inKeysRange, keyedParams, type KeyedParams } from './delivery-keys';
import { selectJsonRows, type JsonColumn } from './rows';

export type RecordedOutcome = OutcomeEvent & { deliveryId: string };

const returningOutcome = (messageRange: string): string => `RETURNING d.id,
                    (SELECT request_id FROM messages m WHERE m.id = d.message_id AND m.created_at = d.created_at${messageRange}),
                    d.message_id, d.user_id, d.channel, d.status, d.attempts, d.last_error, d.updated_at`;

/** The columns an outcome write returns, enough for its event on notify.events. */
export const RETURNING_OUTCOME = returningOutcome('');

/** The same for a write by key (`$1`–`$3`): the message is looked for only in the partitions of the keys' range. */
export const RETURNING_OUTCOME_BY_KEY = returningOutcome(` AND ${inKeysRange('m')}`);

export interface RecordedRow {
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

/** An outcome write's columns after the delivery's id and creation time (see `outcomeRows`). */
export function outcomeColumns(...columns: JsonColumn[]): string {
  return `(${selectJsonRows([['id', 'uuid'], ['created_at', 'timestamptz'], ...columns])}) AS o`;
}

/**
 * The parameters `$1`–`$3` of a write over `outcomeColumns`: each delivery's id and the creation time
 * it carries, then `values` of the rest; and the range of those times (see `inKeysRange`). An id the
 * platform did not make names no delivery and is left out (see `keysOfIds`).
 */
export function outcomeRows<T extends { deliveryId: string }>(outcomes: T[], values: (outcome: T) => unknown[]): KeyedParams {
  const rows: unknown[][] = [];
  const times: Date[] = [];
  for (const outcome of outcomes) {
    const createdAt = timeOfId(outcome.deliveryId);
    if (createdAt) {
      rows.push([outcome.deliveryId, createdAt, ...values(outcome)]);
      times.push(createdAt);
    }
  }
  return keyedParams(rows, times);
}

export function recordedOutcomeOf(row: RecordedRow): RecordedOutcome {
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
