import type { z } from 'zod';
import { isFieldName } from './storable-text';

/**
 * Each problem of a failed parse as `field.path: message`, the form DLQ reasons and errors carry.
 * Reasons are logged and put in DLQ headers, and a producer's keys can be personal data
 * (`to: {"alice@example.com": …}`, a phone number as a `data` key): a key that does not look like a
 * field name is shown as `[key]`, in the path and in zod's "Unrecognized key" message alike, unless
 * the keys are the operator's own (`keys: 'quoted'`, for a configuration file).
 */
export function schemaProblems(error: z.ZodError, { keys = 'field names only' }: { keys?: 'field names only' | 'quoted' } = {}): string[] {
  const name = (key: PropertyKey): string => (typeof key !== 'string' || keys === 'quoted' || isFieldName(key) ? String(key) : '[key]');
  return error.issues.flatMap(ofTheFittingBranch).map((issue) => {
    const message =
      issue.code === 'unrecognized_keys' ? `Unrecognized key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.map((k) => (name(k) === k ? `"${k}"` : name(k))).join(', ')}` : issue.message;
    return `${issue.path.map(name).join('.') || '(root)'}: ${message}`;
  });
}

/**
 * A value no branch of a union took: the problems of the one branch whose fields it has, with no
 * field missing and none unknown (`to.userIds: Too big: expected array to have <=1000 items`), as
 * they say what is wrong; with none or several such branches, the union's own message.
 */
function ofTheFittingBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const missing = (inner: z.core.$ZodIssue) => inner.code === 'invalid_type' && inner.path.length === 1 && inner.message.endsWith('received undefined');
  const fitting = issue.errors.filter((branch) => branch.length > 0 && !branch.some((inner) => inner.code === 'unrecognized_keys' || missing(inner)));
  if (fitting.length !== 1) return [issue];
  return fitting[0]!.flatMap((inner) => ofTheFittingBranch({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue));
}

/** The most problems a DLQ reason lists; `problemsReason` says how many more there were. */
export const MAX_LISTED_PROBLEMS = 10;

/**
 * A DLQ reason of the problems: the first `MAX_LISTED_PROBLEMS`, then `…and N more` for the rest. A
 * request with 1,000 `to.userIds` that are numbers has 1,000 problems, and its reason, cut at its
 * length limit, ended mid-word without saying how many were left out. (The SDK's error keeps them all.)
 */
export function problemsReason(problems: readonly string[]): string {
  const listed = problems.length <= MAX_LISTED_PROBLEMS ? problems : [...problems.slice(0, MAX_LISTED_PROBLEMS), `…and ${problems.length - MAX_LISTED_PROBLEMS} more`];
  return listed.join('; ');
}

/**
 * What is wrong with text that is not JSON. V8's message quotes the text around the error, which can
 * be a phone number or an email address, and reasons are logged: only the position is kept.
 */
export function jsonSyntaxProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  if (message.includes('Unexpected end of JSON input')) return 'not valid JSON: the text ends too early';
  const position = /at position (\d+)/.exec(message)?.[1];
  return position === undefined ? 'not valid JSON' : `not valid JSON at position ${position}`;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A record's value as text when it is UTF-8, the encoding the contract gives JSON values, or
 * undefined. Read leniently, a request written in another encoding (GBK, Latin-1) passed every check
 * with its characters replaced by U+FFFD and reached its users unreadable. A byte order mark is kept,
 * so the JSON parse refuses it as before.
 */
export function utf8Text(value: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(value);
  } catch {
    return undefined;
  }
}

/** The reason given for a value that is not UTF-8 (`invalid_json`). */
export const NOT_UTF8 = 'not valid JSON: the text is not UTF-8';

/** The reason given for a value that starts with a byte order mark (`invalid_json`), which V8's message gives no position for. */
export const STARTS_WITH_BOM = 'not valid JSON: starts with a byte order mark (U+FEFF)';

/** The reason given for a null or empty value, such as a tombstone (`invalid_json`). */
export const EMPTY_VALUE = 'empty record value';

/** The deepest nesting of objects and arrays a request may have (its `data` is the free-form part). */
export const MAX_JSON_NESTING = 32;

/**
 * Whether JSON text nests objects and arrays deeper than `limit`, read without parsing it. Deeper
 * values would pass the schema but overflow the stack of whatever serializes them next (V8's
 * JSON.stringify, PostgreSQL's jsonb parser) and fail their whole batch.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}
