/**
 * A record's value read as JSON, or undefined when it is none. Test readers of a shared topic read it
 * from the beginning, and other tests put records on it that are no JSON on purpose (dead-lettering).
 */
export function jsonOf(value: Buffer | string | null | undefined): unknown {
  if (value === null || value === undefined) return undefined;
  try {
    return JSON.parse(value.toString());
  } catch {
    return undefined;
  }
}
