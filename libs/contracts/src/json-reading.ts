import type { z } from 'zod';
import { ErrorCode } from './error-codes';
import { NotificationRequestSchema, requestNullsAsAbsent, type NotificationRequest } from './notification-request';
import { RecipientUpdateSchema, recipientUpdateNullsAsAbsent, type RecipientUpdate } from './recipient-update';
import { jsonSyntaxProblem, MAX_JSON_NESTING, nestsDeeperThan, schemaProblems, STARTS_WITH_BOM } from './schema-problems';
import { unstorableTextProblem } from './storable-text';

/**
 * A record value's JSON text as the platform reads it: the value, or why it is refused (the DLQ's
 * code and each problem). `json` is the parsed text, when it parsed, so a refusal can still name the
 * request's id. The message center reads what it consumes with these, and the SDK what it is about to
 * produce: a request the SDK takes is one the platform takes.
 */
export type JsonReading<T> =
  | { ok: true; value: T }
  | { ok: false; code: typeof ErrorCode.InvalidJson | typeof ErrorCode.SchemaViolation; problems: string[]; json?: unknown };

/** A notification request (contract section 1) from its JSON text, size and encoding already checked. */
export function readRequestText(text: string): JsonReading<NotificationRequest> {
  return readText(text, (json) => {
    if (nestsDeeperThan(text, MAX_JSON_NESTING)) return [`objects and arrays nest deeper than ${MAX_JSON_NESTING} levels`];
    const parsed = NotificationRequestSchema.safeParse(requestNullsAsAbsent(json));
    if (!parsed.success) return parsed.error;
    // `data` as it came: the schema's record leaves out a key named `__proto__` at its top, which is refused too.
    const unstorable = unstorableTextProblem(text, { ...parsed.data, data: (json as { data?: unknown }).data });
    return unstorable ? [unstorable] : { value: parsed.data };
  });
}

/** A recipient update (contract section 2) from its JSON text, encoding already checked. */
export function readRecipientUpdateText(text: string): JsonReading<RecipientUpdate> {
  return readText(text, (json) => {
    const parsed = RecipientUpdateSchema.safeParse(recipientUpdateNullsAsAbsent(json));
    if (!parsed.success) return parsed.error;
    const unstorable = unstorableTextProblem(text, parsed.data);
    return unstorable ? [unstorable] : { value: parsed.data };
  });
}

/** Parses the text, then checks what it holds: its value, a failed parse, or the problems found. */
function readText<T>(text: string, check: (json: unknown) => { value: T } | z.ZodError | string[]): JsonReading<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // The parse keeps a byte order mark (`utf8Text`), and V8's message about one gives no position.
    return { ok: false, code: ErrorCode.InvalidJson, problems: [text.startsWith('\uFEFF') ? STARTS_WITH_BOM : jsonSyntaxProblem(error)] };
  }
  const checked = check(json);
  if ('value' in checked) return { ok: true, value: checked.value };
  const problems = Array.isArray(checked) ? checked : schemaProblems(checked);
  return { ok: false, code: ErrorCode.SchemaViolation, problems, json };
}
