import type { Client } from 'pg';
import { newId } from '@notify/persistence';

/**
 * `receivers` × `perReceiver` websocket deliveries that failed once (`ack_timeout`) and are due now,
 * to users `bench-user-0`, `bench-user-1`, …, each message under its own request id (`tag` makes
 * the ids of one seeding differ from another's). Replaces every message and delivery there was.
 * With `history`, each receiver also has that many deliveries already delivered over the last days,
 * as a user who has been receiving for a while has.
 */
export async function seedPending(db: Client, tag: string, receivers: number, perReceiver: number, history = 0): Promise<void> {
  await db.query(`TRUNCATE messages, deliveries`);
  if (history > 0) await seedDelivered(db, `${tag}-old-`, receivers, history);
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

const DAY_MS = 86_400_000;

/** `perReceiver` delivered websocket deliveries per receiver, spread over the last 7 days. */
async function seedDelivered(db: Client, tag: string, receivers: number, perReceiver: number): Promise<void> {
  const created = Array.from({ length: receivers * perReceiver }, (_, i) => new Date(Date.now() - 120_000 - ((i * 7919) % (7 * DAY_MS))));
  await db.query(
    `WITH x AS (SELECT m, d, u, c FROM unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::timestamptz[]) AS x(m, d, u, c)),
          messages_in AS (
            INSERT INTO messages (id, request_id, type, recipient, contents, created_at)
            SELECT m, $5 || m, 'bench.note', '{}', '{"en":{"title":"Earlier","body":"An earlier note"}}', c FROM x)
     INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at, delivered_at)
     SELECT d, m, u, 'websocket', 'inbox:' || u, 'en', 'delivered', 1, c, c FROM x`,
    [created.map((c) => newId(c)), created.map((c) => newId(c)), created.map((_, i) => `bench-user-${i % receivers}`), created, tag],
  );
}
