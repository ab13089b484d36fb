import type { OnApplicationShutdown } from '@nestjs/common';
import {
  createEmailProvider,
  createPushProviders,
  createSmsProvider,
  type ChannelDeps,
  type PushChannelProvider,
  type EmailChannelProvider,
  type PushProviders,
  type SmsChannelProvider,
} from '@notify/channels';
import type { ChannelWorkerConfig } from '@notify/config';
import { emailDriverConfig, pushChannelConfig, smsDriverConfig } from './driver-configs';

export type AnyProvider = PushChannelProvider | SmsChannelProvider | EmailChannelProvider;

/**
 * The provider adapters of the channels this process runs, built once at start from the
 * environment; a bad driver configuration fails the start with `ChannelConfigError`.
 */
export class ChannelProviders implements OnApplicationShutdown {
  readonly push: PushProviders | undefined;
  readonly sms: SmsChannelProvider | undefined;
  readonly email: EmailChannelProvider | undefined;
  private readonly stopping = new AbortController();
  /** The adapters whose vendors send delivery receipts, by id (architecture D24). */
  private readonly receiptSenders = new Map<string, AnyProvider>();

  constructor(config: ChannelWorkerConfig, deps: Omit<ChannelDeps, 'stopped'>) {
    const withStop = { ...deps, stopped: this.stopping.signal };
    this.push = config.channels.includes('push') ? createPushProviders(pushChannelConfig(config), withStop) : undefined;
    this.sms = config.channels.includes('sms') ? createSmsProvider(smsDriverConfig(config), withStop) : undefined;
    this.email = config.channels.includes('email') ? createEmailProvider(emailDriverConfig(config), withStop) : undefined;
    for (const provider of this.all()) {
      // Receipts a vendor does not sign are taken only at a URL with the installation's token.
      const taken = provider.receipts === 'signed' || (provider.receipts === 'unsigned' && config.receiptsToken !== undefined);
      if (provider.parseReceipt !== undefined && taken) this.receiptSenders.set(provider.id, provider);
    }
  }

  /**
   * The channels (push: `push.<vendor>`) this process sends on whose adapter is the log driver: their
   * messages are written to the log and recorded `sent`, and reach nobody. Right for a development
   * machine; on any other, a sign that the provider's settings did not reach the process.
   */
  loggedOnly(): string[] {
    return [
      ...Object.entries(this.push ?? {}).map(([vendor, provider]) => [`push.${vendor}`, provider] as const),
      ['sms', this.sms] as const,
      ['email', this.email] as const,
    ]
      .filter(([, provider]) => provider?.id === 'log')
      .map(([channel]) => channel);
  }

  /** The adapter of that id, when its vendor sends delivery receipts. */
  receiptSender(id: string): AnyProvider | undefined {
    return this.receiptSenders.get(id);
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
    await Promise.all(this.all().map((provider) => provider.close()));
  }

  private all(): AnyProvider[] {
    return [...Object.values(this.push ?? {}), this.sms, this.email].filter((provider): provider is AnyProvider => provider !== undefined);
  }
}
