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

  constructor(config: ChannelWorkerConfig, deps: ChannelDeps) {
    this.push = config.channels.includes('push') ? createPushProviders(pushChannelConfig(config), deps) : undefined;
    this.sms = config.channels.includes('sms') ? createSmsProvider(smsDriverConfig(config), deps) : undefined;
    this.email = config.channels.includes('email') ? createEmailProvider(emailDriverConfig(config), deps) : undefined;
  }

  /** Ends pooled connections (HTTP/2 sessions, SMTP pool) after the consumers have stopped. */
  async onApplicationShutdown(): Promise<void> {
    const providers = [...Object.values(this.push ?? {}), this.sms, this.email];
    await Promise.all(providers.map((provider) => provider?.close()));
  }
}
