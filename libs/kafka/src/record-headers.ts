import type { IHeaders } from 'kafkajs';

/**
 * A consumed record's headers as its producer wrote them. kafkajs gathers them into a plain object
 * and takes a name that object already answers to for a repeated header: one named after a property
 * every object has (`constructor`, `toString`, `__proto__`) came out as [the built-in, its value].
 * Copied to a dead-letter topic, the built-in made kafkajs throw a TypeError, which it takes for a
 * crash, not a retry, so one such record stopped the process at every restart on the same batch.
 * A header without a value (a Java producer's `headers().add(name, null)`) stays null.
 */
export function recordHeaders(decoded: IHeaders | undefined): IHeaders {
  return Object.fromEntries(
    Object.entries(decoded ?? {}).flatMap(([name, value]) => {
      const values = (Array.isArray(value) ? value : [value]).filter(isHeaderValue);
      return values.length === 0 ? [] : [[name, values.length === 1 ? values[0] : values]];
    }),
  );
}

function isHeaderValue(value: unknown): value is Buffer | string | null {
  return value === null || typeof value === 'string' || Buffer.isBuffer(value);
}
