import type { EntityManager } from 'typeorm';
import { inSlices, insertJsonRows, jsonRows, queryRows, type JsonColumn } from './rows';

const SEQUENCE_COLUMNS = [
  ['user_id', 'varchar'],
  ['last_seq', 'bigint'],
] as const satisfies readonly JsonColumn[];

const ENTRY_COLUMNS = [
  ['user_id', 'varchar'],
  ['seq', 'bigint'],
  ['message_id', 'uuid'],
  ['locale', 'varchar'],
  ['created_at', 'timestamptz'],
] as const satisfies readonly JsonColumn[];

export interface InboxPlacement {
  userId: string;
  messageId: string;
  /** The message's creation time: inbox entries live in the message's partition, so they age out with it. */
  messageCreatedAt: Date;
  locale: string;
}

/**
 * Puts messages into users' inboxes with gap-free sequence numbers: one upsert per batch hands
 * out each user's next numbers (the row lock serializes concurrent writers of one user; users are
 * locked in a fixed order so two batches cannot deadlock), then one insert places the entries.
 * Returns each placement's sequence number by `inboxKey`.
 */
export async function placeInInboxes(tx: EntityManager, placements: InboxPlacement[]): Promise<Map<string, number>> {
  if (placements.length === 0) return new Map();
  const countByUser = new Map<string, number>();
  for (const p of placements) countByUser.set(p.userId, (countByUser.get(p.userId) ?? 0) + 1);
  const users = [...countByUser.keys()].sort();
  const allocated: { user_id: string; last_seq: string }[] = [];
  // Slices in the same sorted order keep the fixed locking order.
  for (const slice of inSlices(users)) {
    allocated.push(
      ...(await queryRows<{ user_id: string; last_seq: string }>(
        tx,
        `${insertJsonRows('inbox_sequences', SEQUENCE_COLUMNS)}
         ON CONFLICT (user_id) DO UPDATE SET last_seq = inbox_sequences.last_seq + EXCLUDED.last_seq
         RETURNING user_id, last_seq`,
        [jsonRows(slice.map((u) => [u, countByUser.get(u)]))],
      )),
    );
  }
  // Sequence numbers stay far below 2^53, so they are exact as numbers.
  const next = new Map(allocated.map((row) => [row.user_id, Number(row.last_seq) - countByUser.get(row.user_id)! + 1]));
  const seqs = placements.map((p) => {
    const seq = next.get(p.userId)!;
    next.set(p.userId, seq + 1);
    return seq;
  });
  const entries = placements.map((p, i) => [p.userId, seqs[i], p.messageId, p.locale, p.messageCreatedAt]);
  for (const slice of inSlices(entries)) await tx.query(insertJsonRows('inbox_entries', ENTRY_COLUMNS), [jsonRows(slice)]);
  return new Map(placements.map((p, i) => [inboxKey(p.userId, p.messageId), seqs[i]!]));
}

export function inboxKey(userId: string, messageId: string): string {
  return `${userId}\u0000${messageId}`;
}
