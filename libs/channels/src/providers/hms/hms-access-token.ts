import { ProviderError, ProviderErrorCode, jsonOf, parseRetryAfter, type Clock, type HttpClient, type IssuedToken } from '../../ports';
import type { HmsSettings } from './hms-settings';

/** OAuth 2.0 client credentials grant of Huawei's account server. */
export async function fetchHmsAccessToken(http: HttpClient, settings: HmsSettings, clock: Clock, signal: AbortSignal): Promise<IssuedToken> {
  const answer = await http.call({
    method: 'POST',
    url: settings.tokenUrl,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: settings.appId, client_secret: settings.appSecret }).toString(),
    signal,
  });
  const body = jsonOf('hms', answer) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
  if (answer.status === 200 && typeof body.access_token === 'string') {
    return { value: body.access_token, expiresInMs: (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000 };
  }
  const vendorCode = body.error === undefined ? undefined : String(body.error);
  throw new ProviderError({
    provider: 'hms',
    code: answer.status === 429 ? ProviderErrorCode.RateLimited : answer.status >= 500 ? ProviderErrorCode.Unavailable : ProviderErrorCode.BadCredentials,
    vendorCode,
    status: answer.status,
    retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), clock.now()),
    message: `access token refused for app ${settings.appId}: ${vendorCode ?? answer.status} (${String(body.error_description ?? 'no description')})`,
  });
}
