import { z } from 'zod';
import { unstorableValueProblem } from '@notify/contracts';
import { fromTimestamp } from './timestamp';
import { RpcError } from './rpc-error';

/**
 * Validates a decoded request; every problem is reported at once as INVALID_ARGUMENT, each naming its
 * field as the contract spells it (`userId: …`). Protobuf strings may hold U+0000, which PostgreSQL
 * cannot: such a field is an INVALID_ARGUMENT too, not a database error answered INTERNAL.
 */
export function parseRequest<S extends z.ZodType>(schema: S, request: unknown): z.output<S> {
  const unstorable = unstorableValueProblem(request);
  if (unstorable) throw RpcError.invalidArgument([unstorable]);
  const result = schema.safeParse(request ?? {});
  if (!result.success) {
    throw RpcError.invalidArgument(result.error.issues.map((issue) => `${issue.path.join('.') || 'request'}: ${issue.message}`));
  }
  return result.data;
}

/** proto3 cannot tell an empty string from an absent one, so both mean "not given". */
const blankToUndefined = (value: unknown): unknown => (value === '' ? undefined : value);

export function optionalText<T extends z.ZodType>(inner: T) {
  return z.preprocess(blankToUndefined, inner.optional());
}

export function requiredText<T extends z.ZodType<unknown, string>>(inner: T) {
  return z.preprocess(blankToUndefined, z.string({ error: (issue) => (issue.input === undefined ? 'required' : 'must be a string') }).pipe(inner));
}

/** An optional google.protobuf.Timestamp, as a Date. */
export const optionalTimestamp = z
  .object({ seconds: z.union([z.string(), z.number()]).optional(), nanos: z.number().optional() })
  .optional()
  .transform((value, ctx) => {
    if (!value) return undefined;
    const at = fromTimestamp(value);
    if (!at) ctx.addIssue({ code: 'custom', message: 'not a valid timestamp (years 1 to 9999, nanos 0 to 999999999)' });
    return at;
  });

/** For schemas with `since` and `until`: the range must not be empty. */
export function rangeIsOrdered(value: { since?: Date; until?: Date }): boolean {
  return !(value.since && value.until) || value.since < value.until;
}
export const RANGE_PROBLEM = {
  message: 'must be after since',
  path: ['until'],
  // Checked whatever else is wrong, once both times are read: a refinement of the whole request is
  // skipped by default once a field is missing, so a reversed range was reported only after the
  // caller had added it, a second round trip (every problem is reported at once).
  when: ({ value }: { value: unknown }) => {
    const { since, until } = (value ?? {}) as { since?: unknown; until?: unknown };
    return since instanceof Date && until instanceof Date;
  },
};
