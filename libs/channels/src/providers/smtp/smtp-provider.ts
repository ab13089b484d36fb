import { domainToASCII } from 'node:url';
import { createTransport, type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import {
  ProviderError,
  ProviderErrorCode,
  maskEmail,
  systemClock,
  type Clock,
  type EmailChannelProvider,
  type EmailMessage,
  type ProviderGuard,
  type ReceiptStatus,
  type SendReceipt,
} from '../../ports';
import { parseSmtpBounce } from './smtp-bounce';
import { smtpError } from './smtp-errors';
import type { SmtpSettings } from './smtp-settings';

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
/** The domain of a sender, bare (`a@example.com`) or named (`Notify <a@example.com>`). */
const SENDER_DOMAIN = /@([^\s@<>]+)>?\s*$/;

/** Email over SMTP through a pooled nodemailer transport: connections are kept and reused. */
export class SmtpProvider implements EmailChannelProvider {
  readonly id = 'smtp';
  readonly channel = 'email' as const;
  /** Bounces, when the mail system of the return path posts them to the receipts endpoint (they carry no signature). */
  readonly receipts: 'unsigned' | undefined;
  private readonly transport: Transporter<SMTPPool.SentMessageInfo>;

  constructor(
    private readonly settings: SmtpSettings,
    private readonly guard: ProviderGuard,
    timeoutMs: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.receipts = settings.bounceReceipts === true ? 'unsigned' : undefined;
    this.transport = createTransport({
      pool: true,
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.requireTls,
      maxConnections: settings.maxConnections,
      maxMessages: settings.maxMessagesPerConnection,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      tls: { rejectUnauthorized: !settings.allowInvalidCertificates },
      ...(settings.user === undefined ? {} : { auth: { user: settings.user, pass: settings.password ?? '' } }),
      // nodemailer's own logger would write addresses and the SMTP dialogue.
      logger: false,
      debug: false,
    });
  }

  async send(message: EmailMessage): Promise<SendReceipt> {
    if (!ADDRESS.test(message.to)) {
      throw new ProviderError({ provider: this.id, code: ProviderErrorCode.InvalidEndpoint, message: `${maskEmail(message.to)} is not an email address` });
    }
    // The guard's timeout aborts the mail: taken out of the pool's queue, or its connection closed, so
    // a mail reported as timed out (and retried) is not sent later by the pool as well.
    return this.guard.run(async (signal) => {
      const from = message.from ?? this.settings.from;
      try {
        const info = await this.transport.sendMail({
          from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          ...(message.html === undefined ? {} : { html: message.html }),
          ...(message.headers === undefined ? {} : { headers: message.headers }),
          ...(this.settings.returnPath === undefined ? {} : { envelope: { from: this.settings.returnPath, to: message.to } }),
          // Where the relay speaks DSN (RFC 3461): a bounce only for a failure, returning the headers,
          // which hold the Message-ID it is matched by (a whole returned digest could pass 4 MB).
          ...(this.receipts === undefined ? {} : { dsn: { return: 'headers', notify: 'failure' } }),
          // Left out, nodemailer makes a random Message-ID per attempt.
          signal,
          ...(message.messageKey === undefined ? {} : { messageId: `<${message.messageKey}@${messageIdDomain(from)}>` }),
        });
        return { providerMessageId: info.messageId, acceptedAt: new Date(this.clock.now()) };
      } catch (error) {
        throw smtpError(error, message.to);
      }
    });
  }

  /** A bounce (RFC 3464 delivery status notification), as the mail system that received it passes it on. */
  parseReceipt(body: unknown): Promise<ReceiptStatus[]> {
    return parseSmtpBounce(body);
  }

  close(): Promise<void> {
    this.transport.close();
    return Promise.resolve();
  }
}

/**
 * The domain a Message-ID is made at: the sender's, in its ASCII form. nodemailer writes an
 * internationalized domain as punycode in From and the envelope, not in Message-ID, whose 8-bit
 * bytes a strict relay refuses or rewrites (and a rewritten id matches no bounce).
 */
function messageIdDomain(from: string): string {
  const domain = SENDER_DOMAIN.exec(from)?.[1];
  return (domain === undefined ? '' : domainToASCII(domain)) || 'notify.invalid';
}
