/**
 * JSON can carry two things PostgreSQL's text and jsonb cannot hold: U+0000, and a UTF-16
 * surrogate without its pair (JSON escapes both, as `\u0000` and `\ud800`). Such a request would
 * pass its schema and then fail every insert of its batch, forever; it is refused up front.
 */
const MAY_HOLD_UNSTORABLE_TEXT = /\\u(?:0000|d[89a-f])/i;

/**
 * The path of the first string (value or key) in `value` that PostgreSQL cannot store, as
 * `field.path: problem`, or undefined when all of it can be stored. `raw` is the JSON text `value`
 * was parsed from: only text that contains such an escape is walked.
 */
export function unstorableTextProblem(raw: string, value: unknown): string | undefined {
  if (!MAY_HOLD_UNSTORABLE_TEXT.test(raw)) return undefined;
  const path = findUnstorable(value, []);
  return path && `${path.join('.') || '(root)'}: text may not contain U+0000 or an unpaired UTF-16 surrogate`;
}

function findUnstorable(value: unknown, path: (string | number)[]): (string | number)[] | undefined {
  if (typeof value === 'string') return storable(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (!storable(key)) return [...path, JSON.stringify(key)];
      const found = findUnstorable(inner, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/** U+0000, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
// eslint-disable-next-line no-control-regex -- U+0000 is what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function storable(text: string): boolean {
  return !UNSTORABLE.test(text);
}
