import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The longest duration a route may name: ten years. Anything longer is a typo, and past year 9999 a time cannot be stored. */
export const MAX_DURATION_MS = 3_650 * UNIT_MS['d']!;

/** A duration written as `500ms`, `30s`, `5m`, `2h` or `7d` (or a number of seconds), in whole milliseconds. */
export const DurationSchema = z
  .union([
    // Whole milliseconds: `ttl: 0.0004` made a 0.4 ms ttl that a Date cut to none, every message expired on arrival.
    z.number().nonnegative().transform((seconds) => Math.round(seconds * 1_000)),
    z
      .string()
      .regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 5m, 2h or 7d')
      .transform((text) => {
        const [, amount, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(text)!;
        return Number(amount) * UNIT_MS[unit!]!;
      }),
  ])
  .refine((ms) => ms <= MAX_DURATION_MS, 'at most 3650d (ten years)');
