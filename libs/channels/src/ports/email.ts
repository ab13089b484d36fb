import type { ChannelProvider } from './channel-provider';

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** Overrides the provider's configured sender. */
  from?: string;
  /** Extra headers, e.g. `X-Notify-Message-Id` for matching bounces. */
  headers?: Record<string, string>;
}

export interface EmailChannelProvider extends ChannelProvider<EmailMessage> {
  readonly channel: 'email';
}
