import { ErrorCode, MAX_REQUEST_BYTES, NotificationRequestSchema, type NotificationRequest, schemaProblems, unstorableTextProblem } from '@notify/contracts';
import type { ConsumedRecord, Rejection } from '@notify/kafka';
import type { Route, RouteTable } from '../routing/route-table';

export type ParsedRecord = { ok: true; request: NotificationRequest; route: Route } | { ok: false; rejection: Rejection };

/** Turns one record of notify.requests into a validated request and its route, or the reason it goes to the DLQ. */
export function parseRequestRecord(record: ConsumedRecord, routes: RouteTable): ParsedRecord {
  const reject = (code: string, reason: string): ParsedRecord => ({ ok: false, rejection: { record, code, reason } });
  if (!record.value || record.value.length === 0) return reject(ErrorCode.InvalidJson, 'empty record value');
  if (record.value.length > MAX_REQUEST_BYTES) {
    return reject(ErrorCode.PayloadTooLarge, `request is ${record.value.length} bytes; at most ${MAX_REQUEST_BYTES} are allowed`);
  }
  const text = record.value.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return reject(ErrorCode.InvalidJson, error instanceof Error ? error.message : 'not JSON');
  }
  const parsed = NotificationRequestSchema.safeParse(json);
  if (!parsed.success) {
    const reason = schemaProblems(parsed.error).join('; ');
    return reject(ErrorCode.SchemaViolation, reason);
  }
  const unstorable = unstorableTextProblem(text, parsed.data);
  if (unstorable) return reject(ErrorCode.SchemaViolation, unstorable);
  const route = routes.resolve(parsed.data.type);
  if (!route) return reject(ErrorCode.UnknownType, `no route for type "${parsed.data.type}" and no default route`);
  return { ok: true, request: parsed.data, route };
}

const DAY_MS = 86_400_000;

/**
 * A scheduled send must come before its message's rows are deleted: they live in the partition of
 * the day the request arrived, dropped `retentionDays` after it. A later `sendAt` would be lost
 * without a trace, so the request goes to the DLQ instead.
 */
export function sendAtProblem(request: NotificationRequest, now: Date, retentionDays: number): string | undefined {
  if (!request.sendAt || Date.parse(request.sendAt) < now.getTime() + retentionDays * DAY_MS) return undefined;
  return `sendAt: must be less than ${retentionDays} days ahead (MESSAGE_RETENTION_DAYS); messages are deleted after that`;
}
