/**
 * JSON can carry two things PostgreSQL's text and jsonb cannot hold: U+0000, and a UTF-16
 * surrogate without its pair (JSON escapes both, as `\u0000` and `\ud800`). Such a request would
 * pass its schema and then fail every insert of its batch, forever; it is refused up front. So is a
 * key named `__proto__` at any depth: stored and shown by the gateway that consumed it, it made the
 * cluster adapter's msgpack refuse the message on every other gateway, so a user connected there
 * never got it (and its resend batch with it).
 */
const MAY_HOLD_UNSTORABLE_TEXT = /\\u(?:00[0-7]|d[89a-f])|__proto__/i;

/**
 * A number JSON may write that JavaScript reads as another: an integer written as one (digits
 * only, as a 64-bit integer is) past ±(2^53 − 1) that a double cannot hold is rounded
 * (12345678901234567891 became 12345678901234567000, and every reader got the wrong id), and any
 * number past a double's range becomes Infinity, stored as null. A number written with a fraction or an exponent (a double's
 * `6.02E23`) is read as the double it is. Only text with a run of 16 digits or a two-digit exponent
 * can hold one.
 */
const MAY_HOLD_INEXACT_NUMBER = /\d{16}|[eE][+-]?\d{2}/;
const INEXACT_NUMBER =
  "a number JavaScript cannot read as written: an integer beyond ±9007199254740991 that a double cannot hold exactly (send such ones, as 64-bit ids, as strings), or a number past a double's range";

/** Why a key cannot be carried. */
const PROTO_KEY = 'a key may not be "__proto__"';
const UNSTORABLE_TEXT = 'text may not contain U+0000 or an unpaired UTF-16 surrogate';

/**
 * The path of the first string (value or key) in `value` that PostgreSQL cannot store, key the
 * platform cannot carry, or number it cannot carry exactly, as `field.path: problem`, or undefined
 * when all of it can be. `raw` is the JSON text `value` was parsed from: only text that may hold
 * one (an escaped ASCII character or surrogate, the key itself, a long number) is walked.
 */
export function unstorableTextProblem(raw: string, value: unknown): string | undefined {
  const inexact = MAY_HOLD_INEXACT_NUMBER.test(raw) ? inexactNumbers(raw) : NONE;
  return MAY_HOLD_UNSTORABLE_TEXT.test(raw) || inexact.size > 0 ? problemOf(findUnstorable(value, [], inexact)) : undefined;
}

/** The same for a value that did not come from JSON text (a decoded gRPC request): every string is looked at. */
export function unstorableValueProblem(value: unknown): string | undefined {
  return problemOf(findUnstorable(value, [], NONE));
}

const NONE: ReadonlySet<number> = new Set();

function problemOf(found: { path: (string | number)[]; problem: string } | undefined): string | undefined {
  return found && `${found.path.join('.') || '(root)'}: ${found.problem}`;
}

/**
 * The values of the number literals in JSON text that JavaScript reads as other numbers (see
 * `MAY_HOLD_INEXACT_NUMBER`), read from the text itself, outside its strings: once parsed, an
 * integer written as one cannot be told from a double written with an exponent.
 */
function inexactNumbers(text: string): Set<number> {
  const found = new Set<number>();
  // A string is matched whole from its opening quote, so the digits in it are never read as a number.
  for (const [token] of text.matchAll(STRING_OR_NUMBER)) {
    if (token.startsWith('"')) continue;
    const value = Number(token);
    // An integer a double holds exactly (JavaScript and Go write 1.5e18 as 1500000000000000000) is read as written.
    if (!Number.isFinite(value) || (INTEGER_LITERAL.test(token) && !Number.isSafeInteger(value) && BigInt(token) !== BigInt(value))) found.add(value);
  }
  return found;
}
const STRING_OR_NUMBER = /"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*/g;
const INTEGER_LITERAL = /^-?\d+$/;

function findUnstorable(value: unknown, path: (string | number)[], inexact: ReadonlySet<number>): { path: (string | number)[]; problem: string } | undefined {
  if (typeof value === 'string') return storable(value) ? undefined : { path, problem: UNSTORABLE_TEXT };
  if (typeof value === 'number') return inexact.has(value) ? { path, problem: INEXACT_NUMBER } : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], [...path, i], inexact);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    for (let i = 0; i < entries.length; i++) {
      const [key, inner] = entries[i]!;
      if (!storable(key)) return { path: [...path, keyName(key, i)], problem: UNSTORABLE_TEXT };
      if (key === '__proto__') return { path: [...path, key], problem: PROTO_KEY };
      const found = findUnstorable(inner, [...path, keyName(key, i)], inexact);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * A key as the reason names it. The reason is logged and travels in the DLQ header, and the keys of
 * `data` are the producer's own (a phone number or an email may be one), so only a key shaped like
 * a field name is shown; any other is named by its position.
 */
function keyName(key: string, index: number): string {
  return isFieldName(key) ? key : `[key ${index + 1}]`;
}

/** Whether a key looks like a field name, which can be shown; any other (an email address, a phone number) is not. */
export function isFieldName(key: string): boolean {
  return FIELD_NAME.test(key);
}
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** U+0000, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
// eslint-disable-next-line no-control-regex -- U+0000 is what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function storable(text: string): boolean {
  return !UNSTORABLE.test(text);
}
