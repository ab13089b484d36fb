import { EMPTY_VALUE, ErrorCode, MAX_REQUEST_BYTES, NOT_UTF8, type NotificationRequest, problemsReason, readRequestText, RequestIdSchema, utf8Text } from '@notify/contracts';
import type { ConsumedRecord, Rejection } from '@notify/kafka';
import { retentionEnd } from '../planning/message-planner';
import { channelsOf, lastTierDelayMs, type Route, type RouteTable } from '../routing/route-table';

/**
 * A valid request and its route, or the reason the record goes to the DLQ. A request refused for want
 * of a route, or for breaking the schema while its id is valid, keeps its id (`requestId`): it may be a
 * replay of one stored while its type had a route, or by a version whose rules were looser.
 */
export type ParsedRecord = { ok: true; request: NotificationRequest; route: Route } | { ok: false; rejection: Rejection; requestId?: string };

/** Turns one record of notify.requests into a validated request and its route, or the reason it goes to the DLQ. */
export function parseRequestRecord(record: ConsumedRecord, routes: RouteTable): ParsedRecord {
  const reject = (code: string, reason: string): ParsedRecord => ({ ok: false, rejection: { record, code, reason } });
  if (!record.value || record.value.length === 0) return reject(ErrorCode.InvalidJson, EMPTY_VALUE);
  if (record.value.length > MAX_REQUEST_BYTES) {
    return reject(ErrorCode.PayloadTooLarge, `request is ${record.value.length} bytes; at most ${MAX_REQUEST_BYTES} are allowed`);
  }
  const text = utf8Text(record.value);
  if (text === undefined) return reject(ErrorCode.InvalidJson, NOT_UTF8);
  const reading = readRequestText(text);
  if (!reading.ok) {
    // A record refused once parsed keeps its id, when it has a valid one: a request stored under it by
    // an earlier version (whose rules were looser) is a replay, not bad input, and its deliveries still
    // queued are handed out again.
    const rejection = reject(reading.code, problemsReason(reading.problems));
    const id = RequestIdSchema.safeParse((reading.json as { id?: unknown } | null | undefined)?.id);
    return id.success ? ({ ...rejection, requestId: id.data } as ParsedRecord) : rejection;
  }
  const request = reading.value;
  const route = routes.resolve(request.type);
  if (!route) return { ...reject(ErrorCode.UnknownType, `no route for type "${request.type}" and no default route`), requestId: request.id } as ParsedRecord;
  return { ok: true, request, route };
}

/**
 * A message's last send must come before it expires and before its rows are deleted: they live in the partition of the
 * week the request arrived, dropped `retentionDays` after that week's end at the earliest. The last send is `sendAt` (or now) plus
 * the route's escalation to its last fallback tier. A later one would be lost without a trace, so
 * the request goes to the DLQ instead.
 */
export function sendAtProblem(request: NotificationRequest, route: Route, now: Date, retentionDays: number): string | undefined {
  const sendAtMs = request.sendAt === undefined ? undefined : Date.parse(request.sendAt);
  const held = sendAtMs !== undefined && sendAtMs > now.getTime();
  const start = held ? sendAtMs : now.getTime();
  const tiers = channelsOf(route, request.channels).length;
  const lastTierDelay = lastTierDelayMs(route.fallback, tiers);
  // The route table is checked for this at load with the route's channels; a request naming more of
  // its own is checked here, against its own expiresAt when it gives one (as the planner takes it).
  if (request.channels && request.expiresAt === undefined && lastTierDelay >= route.ttlMs) {
    return `channels: with ${tiers} channels the last is released ${lastTierDelay / 1000} s after the first, when the route's messages have expired (ttl ${route.ttlMs / 1000} s): it would never send`;
  }
  if (start + lastTierDelay < retentionEnd(now, retentionDays)) return undefined;
  const escalation = lastTierDelay > 0 ? ', counting the route’s escalation to its last fallback tier' : '';
  return `${lateField(request, route, held)}: the last send must be less than ${retentionDays} days ahead (MESSAGE_RETENTION_DAYS)${escalation}; messages are deleted after that`;
}

/**
 * What a late last send is put down to: a sendAt that holds the message, else the request's own
 * channels, else the route's escalation (a route table loaded without the retention check).
 */
function lateField(request: NotificationRequest, route: Route, held: boolean): string {
  if (held) return 'sendAt';
  return request.channels ? 'channels' : `routes.${route.type}.fallback.after`;
}
