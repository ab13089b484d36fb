import { ProviderError, ProviderErrorCode, maskPhone, parseRetryAfter, type HttpAnswer } from '../../ports';

/** The gateway's id for the message at `path` in its answer, if it is there. */
export function messageIdAt(answer: HttpAnswer, path: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(answer.body) as unknown;
  } catch {
    value = undefined;
  }
  for (const key of path.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
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

/**
 * The 4xx that say the installation is wrong, whatever the message: the URL (404), the method
 * (405), the content type or format of the body template (415), or the account out of credit (402).
 * Every SMS would fail alike until an operator acts, so it is an alert, not a message lost as
 * refused.
 */
const MISCONFIGURED = new Set([402, 404, 405, 415]);

function codeOf(status: number): ProviderErrorCode {
  if (status === 401 || status === 403) return ProviderErrorCode.BadCredentials;
  if (MISCONFIGURED.has(status)) return ProviderErrorCode.Misconfigured;
  if (status === 408) return ProviderErrorCode.Timeout;
  if (status === 429) return ProviderErrorCode.RateLimited;
  if (status >= 500) return ProviderErrorCode.Unavailable;
  return ProviderErrorCode.Rejected;
}
