import type { Client } from 'pg';
import { newId } from '@notify/persistence';

/**
 * `receivers` × `perReceiver` websocket deliveries that failed once (`ack_timeout`) and are due now,
 * to users `bench-user-0`, `bench-user-1`, …, each message under its own request id (`tag` makes
 * the ids of one seeding differ from another's). Replaces every message and delivery there was.
 */
export async function seedPending(db: Client, tag: string, receivers: number, perReceiver: number): Promise<void> {
  await db.query(`TRUNCATE messages, deliveries`);
  const now = new Date(Date.now() - 60_000);
  const created = Array.from({ length: receivers * perReceiver }, () => now);
  const messageIds = created.map((c) => newId(c));
  const deliveryIds = created.map((c) => newId(c));
  const users = created.map((_, i) => `bench-user-${Math.floor(i / perReceiver)}`);
  await db.query(
    `INSERT INTO messages (id, request_id, type, recipient, contents, created_at)
     SELECT m, $2 || m, 'bench.note', '{}', '{"en":{"title":"Your statement is ready","body":"Statement for November is ready to view"}}', $3
       FROM unnest($1::uuid[]) AS m`,
    [messageIds, `${tag}-`, now],
  );
  await db.query(
    `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, last_error, next_attempt_at, created_at, seq)
     SELECT d, m, u, 'websocket', 'inbox:' || u, 'en', 'failed', 1, 'ack_timeout', $4, $4, s
       FROM unnest($1::uuid[], $2::uuid[], $3::varchar[], $5::bigint[]) AS x(d, m, u, s)`,
    [deliveryIds, messageIds, users, now, created.map((_, i) => (i % perReceiver) + 1)],
  );
}
