import { ProviderError, ProviderErrorCode, maskToken, parseRetryAfter } from '../../ports';
import type { Http2Answer } from './apns-connection';

type Mapping = { code: ProviderErrorCode; deactivateToken?: boolean };

/** Apple's documented reasons (Handling notification responses from APNs). */
const REASONS: Record<string, Mapping> = {
  BadDeviceToken: { code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true },
  DeviceTokenNotForTopic: { code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true },
  Unregistered: { code: ProviderErrorCode.EndpointGone, deactivateToken: true },
  ExpiredToken: { code: ProviderErrorCode.EndpointGone, deactivateToken: true },
  BadCollapseId: { code: ProviderErrorCode.Rejected },
  BadExpirationDate: { code: ProviderErrorCode.Rejected },
  BadMessageId: { code: ProviderErrorCode.Rejected },
  BadPriority: { code: ProviderErrorCode.Rejected },
  DuplicateHeaders: { code: ProviderErrorCode.Rejected },
  InvalidPushType: { code: ProviderErrorCode.Rejected },
  MissingDeviceToken: { code: ProviderErrorCode.Rejected },
  PayloadEmpty: { code: ProviderErrorCode.Rejected },
  PayloadTooLarge: { code: ProviderErrorCode.Rejected },
  BadTopic: { code: ProviderErrorCode.Misconfigured },
  MissingTopic: { code: ProviderErrorCode.Misconfigured },
  TopicDisallowed: { code: ProviderErrorCode.Misconfigured },
  BadPath: { code: ProviderErrorCode.Misconfigured },
  MethodNotAllowed: { code: ProviderErrorCode.Misconfigured },
  TooManyProviderTokenUpdates: { code: ProviderErrorCode.Misconfigured },
  BadCertificate: { code: ProviderErrorCode.BadCredentials },
  BadCertificateEnvironment: { code: ProviderErrorCode.BadCredentials },
  Forbidden: { code: ProviderErrorCode.BadCredentials },
  InvalidProviderToken: { code: ProviderErrorCode.BadCredentials },
  MissingProviderToken: { code: ProviderErrorCode.BadCredentials },
  ExpiredProviderToken: { code: ProviderErrorCode.BadCredentials },
  // Apple's 429: too many pushes to this one device token. The device waits; APNs is fine, so no circuit opens.
  TooManyRequests: { code: ProviderErrorCode.Deferred },
  IdleTimeout: { code: ProviderErrorCode.Network },
  InternalServerError: { code: ProviderErrorCode.Unavailable },
  ServiceUnavailable: { code: ProviderErrorCode.Unavailable },
  Shutdown: { code: ProviderErrorCode.Unavailable },
};

export function reasonOf(answer: Http2Answer): string | undefined {
  try {
    const body = JSON.parse(answer.body) as { reason?: unknown };
    return typeof body.reason === 'string' ? body.reason : undefined;
  } catch {
    return undefined;
  }
}

export function apnsError(answer: Http2Answer, token: string, now: number): ProviderError {
  const reason = reasonOf(answer);
  const mapping = (reason === undefined ? undefined : REASONS[reason]) ?? byStatus(answer.status);
  const retryAfter = answer.headers['retry-after'];
  return new ProviderError({
    provider: 'apns',
    code: mapping.code,
    vendorCode: reason,
    status: answer.status,
    deactivateToken: mapping.deactivateToken,
    retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now),
    message: `push to ${maskToken(token)} refused with ${answer.status} ${reason ?? 'without a reason'}`,
  });
}

function byStatus(status: number): Mapping {
  if (status === 410) return { code: ProviderErrorCode.EndpointGone, deactivateToken: true };
  if (status === 429) return { code: ProviderErrorCode.Deferred };
  if (status === 403) return { code: ProviderErrorCode.BadCredentials };
  if (status >= 500) return { code: ProviderErrorCode.Unavailable };
  if (status >= 400) return { code: ProviderErrorCode.Rejected };
  return { code: ProviderErrorCode.Unexpected };
}
