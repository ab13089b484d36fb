import type { EntityManager } from 'typeorm';
import { queryRows } from './rows';

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
  const allocated = await queryRows<{ user_id: string; last_seq: string }>(
    tx,
    `INSERT INTO inbox_sequences (user_id, last_seq)
     SELECT * FROM unnest($1::varchar[], $2::bigint[])
     ON CONFLICT (user_id) DO UPDATE SET last_seq = inbox_sequences.last_seq + EXCLUDED.last_seq
     RETURNING user_id, last_seq`,
    [users, users.map((u) => countByUser.get(u))],
  );
  const next = new Map(allocated.map((row) => [row.user_id, BigInt(row.last_seq) - BigInt(countByUser.get(row.user_id)!) + 1n]));
  const seqs = placements.map((p) => {
    const seq = next.get(p.userId)!;
    next.set(p.userId, seq + 1n);
    return seq.toString();
  });
  await tx.query(
    `INSERT INTO inbox_entries (user_id, seq, message_id, locale, created_at)
     SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::uuid[], $4::varchar[], $5::timestamptz[])`,
    [placements.map((p) => p.userId), seqs, placements.map((p) => p.messageId), placements.map((p) => p.locale), placements.map((p) => p.messageCreatedAt)],
  );
  return new Map(placements.map((p, i) => [inboxKey(p.userId, p.messageId), Number(seqs[i])]));
}

export function inboxKey(userId: string, messageId: string): string {
  return `${userId}\u0000${messageId}`;
}
