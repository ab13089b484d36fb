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

export const postgresUrl = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// connection string');
