export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  /** Refuse to send unless the connection is upgraded with STARTTLS. */
  requireTls: boolean;
  user?: string;
  password?: string;
  /** The default sender, e.g. `Notify <notify@example.com>`. */
  from: string;
  /** Connections the pool keeps open. */
  maxConnections: number;
  /** Messages sent over one connection before it is replaced. */
  maxMessagesPerConnection: number;
  /** Accept self-signed certificates (only for a local relay). */
  allowInvalidCertificates: boolean;
  /** The envelope sender (SMTP `MAIL FROM`), where bounces go; the From address when unset. */
  returnPath?: string;
  /** Bounces (delivery status notifications) are posted back to the receipts endpoint, so each send keeps the key they match. */
  bounceReceipts?: boolean;
}
