import type { IHeaders } from 'kafkajs';

/**
 * A consumed record's headers as its producer wrote them. kafkajs as published gathers them into a
 * plain object and takes a name that object already answers to for a repeated header: one named
 * after a property every object has (`constructor`, `toString`, `__proto__`) came out as [the
 * built-in, its value]. Copied to a dead-letter topic, the built-in made kafkajs throw a TypeError,
 * which it takes for a crash, not a retry, so one such record stopped the process at every restart
 * on the same batch. The project's patch of kafkajs (architecture D23) gathers own properties only;
 * this stays for a kafkajs the patch did not reach (an install that skipped its postinstall).
 * A header without a value (a Java producer's `headers().add(name, null)`) stays null.
 */
export function recordHeaders(decoded: IHeaders | undefined): IHeaders {
  const headers = Object.fromEntries(
    Object.entries(decoded ?? {}).flatMap(([name, value]) => {
      const decodedValues: unknown[] = Array.isArray(value) ? value : [value];
      const values = decodedValues.filter(isHeaderValue);
      return values.length === 0 ? [] : [[name, values.length === 1 ? values[0]! : values]];
    }),
  );
  // kafkajs's type leaves out the null it decodes a header without a value to.
  return headers as IHeaders;
}

type HeaderValue = Buffer | string | null;

function isHeaderValue(value: unknown): value is HeaderValue {
  return value === null || typeof value === 'string' || Buffer.isBuffer(value);
}
