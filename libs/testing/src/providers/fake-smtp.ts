import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

export interface SmtpMail {
  from: string;
  to: string[];
  raw: string;
  /** The delivery status notifications the sender asked for (RFC 3461): what a bounce returns (`HDRS`, `FULL`), and when one is sent (`FAILURE`, …). */
  dsn: { ret: string | null; notify: string[] | null };
}

/** smtp-server's DSN parameters of MAIL FROM and RCPT TO, which its typings leave out. */
interface DsnEnvelope {
  dsn?: { ret?: string | null };
  rcptTo: { dsn?: { notify?: string[] } }[];
}

export interface FakeSmtp {
  host: string;
  port: number;
  user: string;
  password: string;
  mails: SmtpMail[];
  /** TCP connections accepted, to see the pool reuse them. */
  connections: number;
  /** Answers RCPT TO for `address` with this SMTP reply code from now on. */
  rejectRecipient(address: string, code: number, message: string): void;
  /** Answers the DATA of every mail whose text holds `word` with this SMTP reply code from now on (a content filter). */
  rejectText(word: string, code: number, message: string): void;
  /** Answers MAIL FROM for `address` with this SMTP reply code from now on. */
  rejectSender(address: string, code: number, message: string): void;
  /** Greets every new connection with this SMTP reply code and closes it (a blocklisted client IP), until set back to undefined. */
  refuseConnections: { code: number; message: string } | undefined;
  /** Answers every AUTH with this SMTP reply code (a login backend failing), until set back to undefined. */
  authFailure: { code: number; message: string } | undefined;
  /** How long each RCPT TO takes to be answered (a server checking blocklists). */
  recipientDelayMs: number;
  /** How long each mail's DATA takes to be accepted (a slow server). */
  dataDelayMs: number;
  close(): Promise<void>;
}

/** An in-process SMTP server (`smtp-server`) requiring AUTH PLAIN/LOGIN, without TLS. */
/**
 * `implicitTls`: TLS from the first byte (port 465's way), with smtp-server's own certificate for
 * localhost, which is self-signed: a client that checks certificates refuses it.
 */
export async function startFakeSmtp(options: { implicitTls?: boolean } = {}): Promise<FakeSmtp> {
  const user = 'notify';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const rejections = new Map<string, { code: number; message: string }>();
  const senderRejections = new Map<string, { code: number; message: string }>();
  const textRejections = new Map<string, { code: number; message: string }>();
  const mails: SmtpMail[] = [];
  const fake: FakeSmtp = {
    host: '127.0.0.1',
    port: 0,
    user,
    password,
    mails,
    connections: 0,
    recipientDelayMs: 0,
    dataDelayMs: 0,
    authFailure: undefined,
    refuseConnections: undefined,
    rejectRecipient: (address, code, message) => rejections.set(address.toLowerCase(), { code, message }),
    rejectSender: (address, code, message) => senderRejections.set(address.toLowerCase(), { code, message }),
    rejectText: (word, code, message) => textRejections.set(word, { code, message }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    secure: options.implicitTls === true,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    // Postfix and most relays offer DSN (RFC 3461); smtp-server hides it unless asked.
    hideDSN: false,
    logger: false,
    onConnect(_session, callback) {
      fake.connections += 1;
      const refusal = fake.refuseConnections;
      if (refusal === undefined) callback();
      else callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
    },
    onAuth(auth, _session, callback) {
      const failure = fake.authFailure;
      if (failure !== undefined) callback(Object.assign(new Error(failure.message), { responseCode: failure.code }));
      else if (auth.username === user && auth.password === password) callback(null, { user });
      else callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onMailFrom(address: SMTPServerAddress, _session, callback) {
      const rejection = senderRejections.get(address.address.toLowerCase());
      if (rejection === undefined) callback();
      else callback(Object.assign(new Error(rejection.message), { responseCode: rejection.code }));
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const rejection = rejections.get(address.address.toLowerCase());
      const answer = () => (rejection === undefined ? callback() : callback(Object.assign(new Error(rejection.message), { responseCode: rejection.code })));
      if (fake.recipientDelayMs > 0) setTimeout(answer, fake.recipientDelayMs);
      else answer();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        if (fake.dataDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, fake.dataDelayMs));
        const raw = Buffer.concat(chunks).toString('utf8');
        const refusal = [...textRejections].find(([word]) => raw.includes(word))?.[1];
        if (refusal !== undefined) return callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw,
          dsn: {
            ret: (session.envelope as unknown as DsnEnvelope).dsn?.ret ?? null,
            notify: (session.envelope as unknown as DsnEnvelope).rcptTo[0]?.dsn?.notify ?? null,
          },
        });
        callback();
      });
    },
  });
  // A client that refuses the certificate closes the connection during the handshake: smtp-server
  // reports it as an error of the server, which must not take the test process down.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.server.address() as AddressInfo).port;
  return fake;
}

export interface BounceReport {
  /** The recipient's action: `failed` (the default), `delayed`, `delivered`. */
  action?: 'failed' | 'delayed' | 'delivered';
  /** Its enhanced status code (RFC 3463), e.g. `5.1.1`. */
  status: string;
  /** The remote server's reply, e.g. `smtp; 550 5.1.1 <a@example.org>: Recipient address rejected`. */
  diagnostic?: string;
  /** What the report returns of the mail: its headers (Postfix's `text/rfc822-headers`), or all of it (`message/rfc822`). */
  returns?: 'headers' | 'message';
  /** The returned mail marked `Content-Disposition: inline`, as some servers send it. */
  inline?: boolean;
  /** RFC 6533's types, which Postfix writes for a mail sent with SMTPUTF8: `message/global-delivery-status`, `message/global(-headers)`. */
  global?: boolean;
  /** The mailbox that failed, when not the one the mail was sent to (an alias's or a list's member). */
  finalRecipient?: string;
}

/**
 * The bounce a mail system writes to a mail's return path when it cannot deliver it: a delivery
 * status notification (RFC 3464) as Postfix writes one, a human-readable part, the report with a
 * block per recipient, and the mail's headers or the whole mail.
 */
export function bounceOf(mail: SmtpMail, report: BounceReport): string {
  const boundary = `${Math.random().toString(36).slice(2)}.1733486400/mx.example.org`;
  const headerEnd = mail.raw.search(/\r?\n\r?\n/);
  const returned = report.returns === 'message' ? mail.raw : mail.raw.slice(0, headerEnd === -1 ? undefined : headerEnd);
  const recipient = mail.to[0] ?? 'unknown@example.org';
  const failed = report.finalRecipient ?? recipient;
  return [
    'Return-Path: <>',
    'Date: Sun,  6 Dec 2026 12:00:00 +0000 (UTC)',
    'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    `To: ${mail.from}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.org.',
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients.',
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    `Content-Type: message/${report.global === true ? 'global-' : ''}delivery-status`,
    '',
    'Reporting-MTA: dns; mx.example.org',
    'X-Postfix-Queue-ID: 4QxYz1234',
    'Arrival-Date: Sun,  6 Dec 2026 11:59:58 +0000 (UTC)',
    '',
    `Final-Recipient: rfc822; ${failed}`,
    `Original-Recipient: rfc822;${recipient}`,
    `Action: ${report.action ?? 'failed'}`,
    `Status: ${report.status}`,
    'Remote-MTA: dns; mailbox.example.org',
    ...(report.diagnostic === undefined ? [] : folded(`Diagnostic-Code: ${report.diagnostic}`)),
    '',
    `--${boundary}`,
    `Content-Description: Undelivered Message${report.returns === 'message' ? '' : ' Headers'}`,
    `Content-Type: ${report.returns === 'message' ? (report.global === true ? 'message/global' : 'message/rfc822') : report.global === true ? 'message/global-headers' : 'text/rfc822-headers'}`,
    ...(report.inline === true ? ['Content-Disposition: inline'] : []),
    '',
    returned,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** A header field folded as mail systems fold long ones: before a space, past 60 characters. */
function folded(field: string): string[] {
  const lines: string[] = [];
  let rest = field;
  for (let at = rest.indexOf(' ', 60); at !== -1; at = rest.indexOf(' ', 60)) {
    lines.push(rest.slice(0, at));
    rest = rest.slice(at);
  }
  return [...lines, rest];
}
