import { z } from 'zod';

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The longest a Node.js timer waits; a longer delay fires at once (with a warning). */
export const LONGEST_TIMER_MS = 2_147_483_647;

/**
 * The problem of a number of milliseconds under its floor: seconds written for milliseconds
 * (`GATEWAY_ACK_TIMEOUT_MS=30`) is the likely mistake, and it loaded to waits far too short to work.
 */
export const atLeastMs = (min: number) => `at least ${min} ms (a value in seconds?)`;

/** Whole milliseconds, more than 0, and at least `min` where a much shorter wait breaks things. */
export const milliseconds = (min?: number) => (min === undefined ? z.coerce.number().int().positive() : z.coerce.number().int().min(min, atLeastMs(min)));

/** A wait that a timer carries out: a longer one would fire at once instead of late. */
export const timerMs = (fallback: number, min?: number) => milliseconds(min).max(LONGEST_TIMER_MS, `at most ${LONGEST_TIMER_MS} (a timer's longest wait)`).default(fallback);

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
 * A list entry as a problem names it: quoted, unless it holds an `@`, which may follow a user name and
 * password (`app:s3cret@kafka-1:9093`), and secrets are never echoed: then by its place in the list.
 * Exported for the tools that print a list (`npm start` its KAFKA_BROKERS).
 */
export function shownEntry(entry: string, index: number): string {
  return entry.includes('@') ? `entry ${index + 1} (not shown: it holds an @, as credentials do)` : `"${entry}"`;
}

/**
 * A comma-separated list of web origins, each as browsers send it in `Origin`: scheme, host and a
 * port other than the scheme's own, lower case. An entry copied from the address bar
 * (`https://App.example.com/`) is taken as its origin; compared as typed, it refused every browser.
 */
export const origins = (fallback: string) =>
  list(fallback).transform((entries, context) =>
    entries.map((entry, index) => {
      const origin = originOf(entry);
      if (origin === undefined) context.addIssue({ code: 'custom', message: `${shownEntry(entry, index)} is not an origin (http or https, a host, a port at most, no path)` });
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
    .refine((v) => /^postgres(ql)?:\/\//.test(v), { message: 'must be a postgres:// connection string', abort: true })
    .refine(
      userInfoDecodes,
      // pg took `postgres://postgres:100%@db/notify`; TypeORM, which reads it too, threw "URI malformed" naming no setting.
      'its user and password must be percent-encoded (% as %25, @ as %40, : as %3A, / as %2F, # as %23, ? as %3F)',
    );

/** Whether the user name and password of a connection string, when it has them, are valid percent-encoding. */
function userInfoDecodes(url: string): boolean {
  const userInfo = /^postgres(?:ql)?:\/\/([^/?#]*)@/.exec(url)?.[1];
  if (userInfo === undefined) return true;
  try {
    decodeURIComponent(userInfo);
    return true;
  } catch {
    return false;
  }
}

/**
 * A comma-separated list of Kafka brokers, each `host:port` (`[v6 address]:port`). kafkajs took
 * `kafka` or `PLAINTEXT://kafka:9092` and failed only after its retries, with a port of NaN and no
 * setting named.
 */
export const brokers = (fallback: string) =>
  list(fallback)
    .refine((entries) => entries.length > 0, 'at least one broker')
    .superRefine((entries, context) => {
      for (const [index, entry] of entries.entries()) {
        const port = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(entry)?.[1];
        if (port === undefined || Number(port) < 1 || Number(port) > 65535) context.addIssue({ code: 'custom', message: `${shownEntry(entry, index)} is not host:port` });
      }
    });
