import type { OnApplicationShutdown } from '@nestjs/common';
import {
  createEmailProvider,
  createPushProviders,
  createSmsProvider,
  type ChannelDeps,
  type EmailChannelProvider,
  type PushProviders,
  type SmsChannelProvider,
} from '@notify/channels';
import type { ChannelWorkerConfig } from '@notify/config';
import { emailDriverConfig, pushChannelConfig, smsDriverConfig } from './driver-configs';

/**
 * The provider adapters of the channels this process runs, built once at start from the
 * environment; a bad driver configuration fails the start with `ChannelConfigError`.
 */
export class ChannelProviders implements OnApplicationShutdown {
  readonly push: PushProviders | undefined;
  readonly sms: SmsChannelProvider | undefined;
  readonly email: EmailChannelProvider | undefined;
  private readonly stopping = new AbortController();

  constructor(config: ChannelWorkerConfig, deps: Omit<ChannelDeps, 'stopped'>) {
    const withStop = { ...deps, stopped: this.stopping.signal };
    this.push = config.channels.includes('push') ? createPushProviders(pushChannelConfig(config), withStop) : undefined;
    this.sms = config.channels.includes('sms') ? createSmsProvider(smsDriverConfig(config), withStop) : undefined;
    this.email = config.channels.includes('email') ? createEmailProvider(emailDriverConfig(config), withStop) : undefined;
  }

  /**
   * Makes no vendor call that has not begun: each is refused as `overloaded`, due again at once
   * (`ChannelDeps.stopped`), so a stop waits only for the calls already made.
   */
  stopSending(): void {
    this.stopping.abort();
  }

  /** Ends pooled connections (HTTP/2 sessions, SMTP pool) after the consumers have stopped. */
  async onApplicationShutdown(): Promise<void> {
    const providers = [...Object.values(this.push ?? {}), this.sms, this.email];
    await Promise.all(providers.map((provider) => provider?.close()));
  }
}
