import type { z } from 'zod';

/** Each problem of a failed parse as `field.path: message`, the form DLQ reasons and errors carry. */
export function schemaProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
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
