import { ProviderError, ProviderErrorCode, maskToken, parseRetryAfter, type HttpAnswer } from '../../ports';

type Mapping = { code: ProviderErrorCode; deactivateToken?: boolean };

interface FcmErrorBody {
  error?: {
    status?: string;
    message?: string;
    details?: Array<{ '@type'?: string; errorCode?: string; fieldViolations?: Array<{ field?: string }> }>;
  };
}

/** `FcmError.errorCode` values of the HTTP v1 API. */
const ERROR_CODES: Record<string, Mapping> = {
  UNREGISTERED: { code: ProviderErrorCode.EndpointGone, deactivateToken: true },
  SENDER_ID_MISMATCH: { code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true },
  INVALID_ARGUMENT: { code: ProviderErrorCode.Rejected },
  QUOTA_EXCEEDED: { code: ProviderErrorCode.RateLimited },
  UNAVAILABLE: { code: ProviderErrorCode.Unavailable },
  INTERNAL: { code: ProviderErrorCode.Unavailable },
  THIRD_PARTY_AUTH_ERROR: { code: ProviderErrorCode.BadCredentials },
};

/** Google API `status` values, for answers without an FcmError detail. */
const STATUSES: Record<string, Mapping> = {
  UNAUTHENTICATED: { code: ProviderErrorCode.BadCredentials },
  PERMISSION_DENIED: { code: ProviderErrorCode.Misconfigured },
  NOT_FOUND: { code: ProviderErrorCode.Misconfigured },
  INVALID_ARGUMENT: { code: ProviderErrorCode.Rejected },
  RESOURCE_EXHAUSTED: { code: ProviderErrorCode.RateLimited },
  UNAVAILABLE: { code: ProviderErrorCode.Unavailable },
  INTERNAL: { code: ProviderErrorCode.Unavailable },
};

/**
 * Whether FCM refused the access token itself (so a new one may help). A 401 with
 * THIRD_PARTY_AUTH_ERROR is about the APNs certificate or web push key set up in Firebase: a new
 * access token changes nothing there.
 */
export function isUnauthenticated(answer: HttpAnswer): boolean {
  return answer.status === 401 && fcmErrorCode(parse(answer.body).error?.details ?? []) !== 'THIRD_PARTY_AUTH_ERROR';
}

function fcmErrorCode(details: NonNullable<NonNullable<FcmErrorBody['error']>['details']>): string | undefined {
  return details.find((detail) => detail['@type']?.endsWith('FcmError'))?.errorCode;
}

/**
 * QUOTA_EXCEEDED is the project's quota, a topic's rate or one device's rate; the message says which.
 * Too many pushes to one device (a runaway producer, a busy chat) say nothing about FCM: that device
 * waits, as for APNs' TooManyRequests, and no circuit opens for every other FCM user.
 */
const DEVICE_RATE = /device message rate/i;

/** FCM's documented answer for a token it does not know: INVALID_ARGUMENT, saying so in its message. */
const NOT_A_VALID_TOKEN = /registration token is not a valid FCM registration token/i;

export function fcmError(answer: HttpAnswer, token: string, now: number): ProviderError {
  const error = parse(answer.body).error;
  const details = error?.details ?? [];
  const errorCode = fcmErrorCode(details);
  // INVALID_ARGUMENT is about the token only when FCM says so: in its message, as its documentation
  // shows, or in a field violation naming `message.token`. Otherwise it is about the message.
  const badToken =
    NOT_A_VALID_TOKEN.test(error?.message ?? '') || details.some((detail) => detail.fieldViolations?.some((violation) => violation.field === 'message.token'));
  const mapping: Mapping =
    errorCode === 'INVALID_ARGUMENT' && badToken
      ? { code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true }
      : errorCode === 'QUOTA_EXCEEDED' && DEVICE_RATE.test(error?.message ?? '')
        ? { code: ProviderErrorCode.Deferred }
        : ((errorCode === undefined ? undefined : ERROR_CODES[errorCode]) ?? (error?.status === undefined ? undefined : STATUSES[error.status]) ?? byStatus(answer.status, errorCode !== undefined || error?.status !== undefined));
  return new ProviderError({
    provider: 'fcm',
    code: mapping.code,
    deactivateToken: mapping.deactivateToken,
    vendorCode: errorCode ?? error?.status,
    status: answer.status,
    retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), now),
    message: `push to ${maskToken(token)} refused with ${answer.status} ${errorCode ?? error?.status ?? ''}: ${error?.message ?? 'no message'}`,
  });
}

function parse(body: string): FcmErrorBody {
  try {
    return JSON.parse(body) as FcmErrorBody;
  } catch {
    return {};
  }
}

/** `vendorCoded`: the answer carried an FCM error code or a Google API status (one not mapped above). */
function byStatus(status: number, vendorCoded: boolean): Mapping {
  if (status === 401) return { code: ProviderErrorCode.BadCredentials };
  if (status === 403) return { code: ProviderErrorCode.Misconfigured };
  // Without an error body, 404 (or 405) is Google's front end answering a path it does not know: a
  // wrong base URL or project id, as APNs' BadPath. A JSON NOT_FOUND/UNREGISTERED is mapped above.
  if ((status === 404 || status === 405) && !vendorCoded) return { code: ProviderErrorCode.Misconfigured };
  if (status === 429) return { code: ProviderErrorCode.RateLimited };
  if (status >= 500) return { code: ProviderErrorCode.Unavailable };
  if (status >= 400) return { code: ProviderErrorCode.Rejected };
  return { code: ProviderErrorCode.Unexpected };
}
