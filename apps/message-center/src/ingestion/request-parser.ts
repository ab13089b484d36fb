import {
  ErrorCode,
  MAX_REQUEST_BYTES,
  NotificationRequestSchema,
  type Channel,
  type NotificationRequest,
} from '@notify/contracts';
import type { ConsumedRecord, Rejection } from '@notify/kafka';
import type { AcceptedMessage } from '@notify/persistence';
import type { RouteTable } from '../routing/route-table';

export type ParsedRecord = { ok: true; message: AcceptedMessage } | { ok: false; rejection: Rejection };

/** The endpoint of a websocket delivery: the user's inbox, which every connected device of the user reads. */
export const INBOX_ENDPOINT = 'inbox';

/** Turns one record of notify.requests into a message to store, or the reason it goes to the DLQ. */
export function parseRequestRecord(record: ConsumedRecord, routes: RouteTable): ParsedRecord {
  const reject = (code: string, reason: string): ParsedRecord => ({ ok: false, rejection: { record, code, reason } });
  if (!record.value || record.value.length === 0) return reject(ErrorCode.InvalidJson, 'empty record value');
  if (record.value.length > MAX_REQUEST_BYTES) {
    return reject(ErrorCode.PayloadTooLarge, `request is ${record.value.length} bytes; at most ${MAX_REQUEST_BYTES} are allowed`);
  }
  let json: unknown;
  try {
    json = JSON.parse(record.value.toString('utf8'));
  } catch (error) {
    return reject(ErrorCode.InvalidJson, error instanceof Error ? error.message : 'not JSON');
  }
  const parsed = NotificationRequestSchema.safeParse(json);
  if (!parsed.success) {
    const reason = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return reject(ErrorCode.SchemaViolation, reason);
  }
  const request = parsed.data;
  const route = routes.resolve(request.type);
  if (!route) return reject(ErrorCode.UnknownType, `no route for type "${request.type}" and no default route`);
  return { ok: true, message: toAcceptedMessage(request, routes.channelsFor(route, request.channels)) };
}

function toAcceptedMessage(request: NotificationRequest, channels: Channel[]): AcceptedMessage {
  const userIds = 'userId' in request.to ? [request.to.userId] : 'userIds' in request.to ? [...new Set(request.to.userIds)] : [];
  const inApp = channels.includes('websocket');
  return {
    requestId: request.id,
    type: request.type,
    recipient: request.to,
    title: request.content?.title ?? '',
    body: request.content?.body ?? '',
    data: request.data ?? {},
    locale: request.locale ?? null,
    priority: request.priority ?? 'normal',
    sendAt: request.sendAt ?? null,
    expiresAt: request.expiresAt ?? null,
    inboxUserIds: inApp ? userIds : [],
    deliveries: inApp ? userIds.map((userId) => ({ userId, channel: 'websocket' as const, endpoint: INBOX_ENDPOINT })) : [],
  };
}
