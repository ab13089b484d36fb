import {
  AccessTokenCache,
  HttpClient,
  ProviderError,
  ProviderErrorCode,
  jsonOf,
  sendEachToken,
  systemClock,
  type Clock,
  type ProviderGuard,
  type PushBatch,
  type PushChannelProvider,
  type PushMessage,
  type PushResult,
  type SendReceipt,
} from '../../ports';
import { fetchFcmAccessToken } from './fcm-access-token';
import { fcmError, isUnauthenticated } from './fcm-errors';
import { fcmMessage } from './fcm-message';
import { parseServiceAccount, type ServiceAccount } from './fcm-service-account';
import type { FcmSettings } from './fcm-settings';

/** Firebase Cloud Messaging HTTP v1, authenticated with a service account's OAuth2 access token. */
export class FcmProvider implements PushChannelProvider {
  readonly id = 'fcm';
  readonly channel = 'push' as const;
  private readonly account: ServiceAccount;
  private readonly accessToken: AccessTokenCache;
  private readonly sendUrl: string;
  private readonly http = new HttpClient('fcm');

  constructor(
    settings: FcmSettings,
    private readonly guard: ProviderGuard,
    private readonly clock: Clock = systemClock,
  ) {
    this.account = parseServiceAccount(settings.serviceAccountJson);
    const tokenUrl = settings.tokenUrl ?? this.account.tokenUri;
    this.accessToken = new AccessTokenCache((signal) => fetchFcmAccessToken(this.http, this.account, tokenUrl, clock, signal), clock);
    this.sendUrl = `${settings.baseUrl.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(this.account.projectId)}/messages:send`;
  }

  async send(message: PushMessage): Promise<SendReceipt> {
    const body = JSON.stringify({ message: fcmMessage(message.token, message.content, this.clock.now()) });
    return this.guard.run((signal) => this.post(message.token, body, signal, true));
  }

  sendMany(batch: PushBatch): Promise<PushResult[]> {
    return sendEachToken(this.id, batch, (message) => this.send(message));
  }

  close(): Promise<void> {
    this.http.close();
    return Promise.resolve();
  }

  private async post(token: string, body: string, signal: AbortSignal, mayRenewToken: boolean): Promise<SendReceipt> {
    const accessToken = await this.accessToken.get(signal);
    const answer = await this.http.call({
      method: 'POST',
      url: this.sendUrl,
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body,
      signal,
    });
    if (answer.status === 200) {
      const name = (jsonOf(this.id, answer) as { name?: unknown }).name;
      if (typeof name !== 'string') {
        throw new ProviderError({ provider: this.id, code: ProviderErrorCode.Unexpected, status: 200, message: 'accepted without a message name' });
      }
      return { providerMessageId: name, acceptedAt: new Date(this.clock.now()) };
    }
    // An access token revoked or expired early is fetched again once; a second 401 is configuration.
    if (mayRenewToken && isUnauthenticated(answer)) {
      this.accessToken.invalidate(accessToken);
      return this.post(token, body, signal, false);
    }
    throw fcmError(answer, token, this.clock.now());
  }
}
