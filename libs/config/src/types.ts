import { z } from 'zod';

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The longest a Node.js timer waits; a longer delay fires at once (with a warning). */
export const LONGEST_TIMER_MS = 2_147_483_647;

/** A wait that a timer carries out: a longer one would fire at once instead of late. */
export const timerMs = (fallback: number) => z.coerce.number().int().positive().max(LONGEST_TIMER_MS, `at most ${LONGEST_TIMER_MS} (a timer's longest wait)`).default(fallback);

export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );

/**
 * A comma-separated list of web origins, each as browsers send it in `Origin`: scheme, host and a
 * port other than the scheme's own, lower case. An entry copied from the address bar
 * (`https://App.example.com/`) is taken as its origin; compared as typed, it refused every browser.
 */
export const origins = (fallback: string) =>
  list(fallback).transform((entries, context) =>
    entries.map((entry) => {
      const origin = originOf(entry);
      if (origin === undefined) context.addIssue({ code: 'custom', message: `"${entry}" is not an origin (http or https, a host, a port at most, no path)` });
      return origin ?? entry;
    }),
  );

function originOf(entry: string): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return undefined;
  }
  const bare = url.username === '' && url.password === '' && url.pathname === '/' && url.search === '' && url.hash === '';
  return (url.protocol === 'http:' || url.protocol === 'https:') && bare ? url.origin : undefined;
}

export const postgresUrl = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// connection string');
