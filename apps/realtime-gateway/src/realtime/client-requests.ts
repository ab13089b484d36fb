import { z } from 'zod';
import { MAX_SYNC_LIMIT, type AckError, type ClientToServerEvents } from '@notify/contracts';

/**
 * What a client may send; anything else is answered with an `invalid_argument` error naming the field.
 * As on Kafka, a field this version does not know is ignored (a client written for a later contract
 * still syncs) and an optional field sent as `null` is absent (.NET's and Jackson's default).
 */
export const SyncRequestSchema = z.object({
  afterSeq: z.number().int().min(0),
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_SYNC_LIMIT)
    .nullish()
    .transform((limit) => limit ?? 100),
});

export const SyncReadsRequestSchema = z.object({
  afterReadSeq: z.number().int().min(0),
});

/** A read of no ids is answered `{ ok: true }` too (contract section 4), and marks nothing. */
export const ReadRequestSchema = z.object({
  ids: z.array(z.uuid()).max(MAX_SYNC_LIMIT),
});

export function invalidArgument(error: z.ZodError): AckError {
  const issue = error.issues[0]!;
  return { error: { code: 'invalid_argument', message: `${issue.path.join('.') || '(payload)'}: ${issue.message}` } };
}

/** The events a client may send; any other sent with an acknowledgement callback is answered `unknownEvent`. */
export const CLIENT_EVENTS: readonly (keyof ClientToServerEvents)[] = ['sync', 'syncReads', 'read'];

/** The answer to an event the gateway does not handle: without it, a typo's callback would wait for ever. */
export function unknownEvent(event: unknown): AckError {
  return { error: { code: 'invalid_argument', message: `${String(event)}: unknown event; ${CLIENT_EVENTS.slice(0, -1).join(', ')} or ${CLIENT_EVENTS.at(-1)}` } };
}

/** A request whose acknowledgement callback came where its payload goes (`emit('sync', callback)`). */
export function missingPayload(): AckError {
  return { error: { code: 'invalid_argument', message: '(payload): a request object is required before the acknowledgement callback' } };
}

export function busy(): AckError {
  return { error: { code: 'busy', message: `${MAX_WAITING_REQUESTS} requests of this connection are waiting; ask again once they are answered` } };
}

/** Requests of one connection that may wait for their turn behind the one being answered. */
export const MAX_WAITING_REQUESTS = 32;

export function internalError(): AckError {
  return { error: { code: 'internal', message: 'the request could not be completed; try again' } };
}
