import { randomUUID } from 'node:crypto';
import {
  sendEachToken,
  systemClock,
  type Clock,
  type ProviderGuard,
  type ProviderLog,
  type PushBatch,
  type PushChannelProvider,
  type PushMessage,
  type PushResult,
  type SendReceipt,
} from '../../ports';
import { ApnsConnection } from './apns-connection';
import { apnsError, reasonOf } from './apns-errors';
import { ApnsProviderToken } from './apns-provider-token';
import { apnsHeaders, apnsPayload, checkApnsMessage } from './apns-request';
import type { ApnsSettings } from './apns-settings';

/** Apple Push Notification service over HTTP/2 with token (JWT) authentication. */
export class ApnsProvider implements PushChannelProvider {
  readonly id = 'apns';
  readonly channel = 'push' as const;
  private readonly connection: ApnsConnection;
  private readonly providerToken: ApnsProviderToken;

  constructor(
    private readonly settings: ApnsSettings,
    private readonly guard: ProviderGuard,
    log: ProviderLog,
    private readonly clock: Clock = systemClock,
  ) {
    this.connection = new ApnsConnection(settings.baseUrl, log);
    this.providerToken = new ApnsProviderToken(settings.signingKey, settings.teamId, settings.keyId, settings.tokenRefreshAfterMs, clock);
  }

  async send(message: PushMessage): Promise<SendReceipt> {
    const payload = apnsPayload(message.content);
    checkApnsMessage(message.token, message.content);
    const apnsId = randomUUID();
    return this.guard.run((signal) => this.post(message, payload, apnsId, signal, true));
  }

  sendMany(batch: PushBatch): Promise<PushResult[]> {
    return sendEachToken(this.id, batch, (message) => this.send(message));
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  private async post(message: PushMessage, payload: string, apnsId: string, signal: AbortSignal, mayRenewToken: boolean): Promise<SendReceipt> {
    const jwt = this.providerToken.get();
    const answer = await this.connection.request(apnsHeaders(message.token, message.content, this.settings.topic, jwt, apnsId), payload, signal);
    if (answer.status === 200) {
      const echoed = answer.headers['apns-id'];
      return { providerMessageId: typeof echoed === 'string' ? echoed : apnsId, acceptedAt: new Date(this.clock.now()) };
    }
    // A token APNs calls expired (clock skew, a restart) is renewed once; a second refusal is configuration.
    if (mayRenewToken && answer.status === 403 && reasonOf(answer) === 'ExpiredProviderToken') {
      this.providerToken.invalidate(jwt);
      return this.post(message, payload, apnsId, signal, false);
    }
    throw apnsError(answer, message.token, this.clock.now());
  }
}
