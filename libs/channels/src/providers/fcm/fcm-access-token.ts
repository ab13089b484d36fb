import {
  ProviderError,
  ProviderErrorCode,
  type HttpClient,
  jsonOf,
  parseRetryAfter,
  signJwt,
  type Clock,
  type IssuedToken,
} from '../../ports';
import type { ServiceAccount } from './fcm-service-account';

const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** Exchanges a JWT signed with the service account key for an OAuth2 access token (RFC 7523). */
export async function fetchFcmAccessToken(
  http: HttpClient,
  account: ServiceAccount,
  tokenUrl: string,
  clock: Clock,
  signal: AbortSignal,
): Promise<IssuedToken> {
  const iat = Math.floor(clock.now() / 1000);
  const header = account.privateKeyId === undefined ? {} : { kid: account.privateKeyId };
  const assertion = signJwt('RS256', account.privateKey, header, { iss: account.clientEmail, scope: FCM_SCOPE, aud: tokenUrl, iat, exp: iat + 3600 });
  const answer = await http.call({
    method: 'POST',
    url: tokenUrl,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
    signal,
  });
  const body = jsonOf('fcm', answer) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
  if (answer.status === 200 && typeof body.access_token === 'string') {
    return { value: body.access_token, expiresInMs: (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000 };
  }
  const vendorCode = typeof body.error === 'string' ? body.error : undefined;
  const described = typeof body.error_description === 'string' ? body.error_description : 'no description';
  throw new ProviderError({
    provider: 'fcm',
    code: answer.status === 429 ? ProviderErrorCode.RateLimited : answer.status >= 500 ? ProviderErrorCode.Unavailable : ProviderErrorCode.BadCredentials,
    vendorCode,
    status: answer.status,
    retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), clock.now()),
    message: `access token refused for ${account.clientEmail}: ${vendorCode ?? answer.status} (${described})`,
  });
}
