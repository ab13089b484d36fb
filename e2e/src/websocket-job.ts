import { DeliveryJobSchema, type DeliveryJob } from '@notify/contracts';
import { newId } from '@notify/persistence';

/** Runs one statement: a pg `Client` and a TypeORM `DataSource` both fit. */
type Query = (sql: string, params: unknown[]) => Promise<unknown>;

/**
 * One new message for the user with a queued websocket delivery, stored as the message center
 * stores them, and the job for notify.deliver.websocket that the message center would produce.
 * `seq` null makes a job no browser can place; `retry` is the message's retry policy; `expiresAt`
 * the message's expiry, on its delivery and job too.
 */
export async function seedWebsocketJob(
  query: Query,
  userId: string,
  { requestId, seq, retry = {}, expiresAt = null }: { requestId: string; seq: number | null; retry?: Record<string, number>; expiresAt?: Date | null },
): Promise<DeliveryJob> {
  const created = new Date();
  const messageId = newId(created);
  const deliveryId = newId(created);
  await query(
    `INSERT INTO messages (id, request_id, type, recipient, retry, created_at, expires_at, contents)
     VALUES ($1, $2, 'account.note', '{}', $3::jsonb, $4, $5, '{"en":{"title":"t","body":"b"}}')`,
    [messageId, requestId, JSON.stringify(retry), created, expiresAt],
  );
  await query(
    `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at, seq, expires_at)
     VALUES ($1, $2, $3::varchar, 'websocket', 'inbox:' || $3::varchar, 'en', 'queued', 0, $4, $5, $6)`,
    [deliveryId, messageId, userId, created, seq, expiresAt],
  );
  return DeliveryJobSchema.parse({
    deliveryId,
    requestId,
    userId,
    channel: 'websocket',
    endpoint: `inbox:${userId}`,
    attempt: 1,
    expiresAt: expiresAt?.toISOString() ?? null,
    priority: 'normal',
    locale: 'en',
    message: { id: messageId, seq, type: 'account.note', title: 't', body: 'b', data: {}, createdAt: created.toISOString() },
  });
}
