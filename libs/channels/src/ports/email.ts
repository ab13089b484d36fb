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
  /**
   * The same for every attempt of the same mail (letters and digits): SMTP makes it the Message-ID,
   * so a mail sent again after an attempt whose outcome was unknown (a timeout after the server had
   * taken it) is the same message to the mailbox, which can keep one copy.
   */
  messageKey?: string;
}

export interface EmailChannelProvider extends ChannelProvider<EmailMessage> {
  readonly channel: 'email';
}
