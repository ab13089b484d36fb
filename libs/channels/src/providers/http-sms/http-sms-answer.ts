import { randomUUID } from 'node:crypto';
import { ProviderError, ProviderErrorCode, maskPhone, parseRetryAfter, type HttpAnswer } from '../../ports';

/**
 * The gateway's id for the message at `path`, or a made-up one when it gives none there (`named`
 * false). A 2xx is the gateway accepting the message, id or not: taken for a failure, the message
 * was sent again on every retry.
 */
export function messageIdOf(answer: HttpAnswer, path: string | undefined): { id: string; named: boolean } {
  const madeUp = { id: `http-sms-${randomUUID()}`, named: false };
  if (path === undefined) return madeUp;
  let value: unknown;
  try {
    value = JSON.parse(answer.body) as unknown;
  } catch {
    value = undefined;
  }
  for (const key of path.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  if (typeof value === 'string' || typeof value === 'number') return { id: String(value), named: true };
  return madeUp;
}

/** A generic gateway's codes are unknown, so only the HTTP status decides. */
export function httpSmsError(answer: HttpAnswer, to: string, now: number): ProviderError {
  return new ProviderError({
    provider: 'http-sms',
    code: codeOf(answer.status),
    status: answer.status,
    retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), now),
    message: `SMS to ${maskPhone(to)} refused with ${answer.status}`,
  });
}

function codeOf(status: number): ProviderErrorCode {
  if (status === 401 || status === 403) return ProviderErrorCode.BadCredentials;
  if (status === 404) return ProviderErrorCode.Misconfigured;
  if (status === 408) return ProviderErrorCode.Timeout;
  if (status === 429) return ProviderErrorCode.RateLimited;
  if (status >= 500) return ProviderErrorCode.Unavailable;
  return ProviderErrorCode.Rejected;
}
