import { ProviderError, ProviderErrorCode, UNKNOWN_HOST, isCertificateRefused, maskEmail } from '../../ports';

/** The fields nodemailer puts on its errors. */
interface NodemailerFailure {
  code?: string;
  /** The system's own code behind `EDNS` or `ESOCKET` (`ENOTFOUND`, `EAI_AGAIN`, `CERT_HAS_EXPIRED`, …). */
  originalCode?: string;
  responseCode?: number;
  command?: string;
  message?: string;
  /** The server's reply line, e.g. `550 5.1.1 User unknown`. */
  response?: string;
}

/** 4xx replies are temporary by SMTP's own definition, 5xx permanent; transport failures are transient. */
export function smtpError(error: unknown, to: string): ProviderError {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as NodemailerFailure;
  const reply = failure.responseCode;
  return new ProviderError({
    provider: 'smtp',
    code: codeOf(failure, reply),
    vendorCode: failure.code,
    status: reply,
    message: [`mail to ${maskEmail(to)} failed:`, failure.code ?? 'error', reply, failure.command === undefined ? undefined : `after ${failure.command}`]
      .filter((part) => part !== undefined)
      .join(' '),
    cause: error,
  });
}

function codeOf(failure: NodemailerFailure, reply: number | undefined): ProviderErrorCode {
  const { code, command, response } = failure;
  if (code === 'EABORT') return ProviderErrorCode.Timeout;
  // A 4xx is temporary whatever it answered, a login included (`454 4.7.0 Temporary authentication failure`).
  // At RCPT TO it is that address's (greylisting, a full mailbox), unless it names the sender, the
  // client or relaying: Postfix answers 450 for its own configuration's troubles there too.
  if (reply !== undefined && reply >= 400 && reply < 500) {
    return command === 'RCPT TO' && reply !== 421 && !blamesTheInstallation(response) ? ProviderErrorCode.Deferred : ProviderErrorCode.Unavailable;
  }
  if (code === 'EAUTH' || code === 'ENOAUTH') return ProviderErrorCode.BadCredentials;
  if (code === 'EDNS') return UNKNOWN_HOST.has(failure.originalCode ?? '') ? ProviderErrorCode.Misconfigured : ProviderErrorCode.Network;
  // A handshake that failed, or a STARTTLS the server refused, is the configuration's (its certificate,
  // its TLS versions); a relay that closed the connection during the upgrade (a restart) is not.
  if (code === 'ETLS') return failure.message?.startsWith('Connection closed unexpectedly') ? ProviderErrorCode.Network : ProviderErrorCode.Misconfigured;
  // Implicit TLS (port 465) fails on the socket: a certificate that does not verify is the configuration's too.
  if (code === 'ESOCKET' && isCertificateRefused(failure.originalCode)) return ProviderErrorCode.Misconfigured;
  if (reply !== undefined && reply >= 500) return permanentCodeOf(code, command, reply, response);
  if (code === 'ETIMEDOUT') return ProviderErrorCode.Timeout;
  if (code === 'ECONNECTION' || code === 'ESOCKET' || code === 'ESTREAM') return ProviderErrorCode.Network;
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return ProviderErrorCode.Rejected;
  return ProviderErrorCode.Unexpected;
}


/** The session's own commands (`CONN` is the server's greeting): a refusal there is before any mail. */
const SESSION_COMMANDS = new Set(['CONN', 'EHLO', 'HELO', 'LHLO', 'RSET', 'NOOP']);

/**
 * What a 5xx means depends on where it came. Refusing the session (a 554 greeting for a blocklisted
 * address, EHLO or RSET refused), refusing the sender (MAIL FROM), asking for a login (530) or
 * denying relay is this installation's configuration: every mail would fail alike, and no address is
 * to blame. Many relays (Postfix by default) give their refusals of the client, its HELO and the
 * sender only in answer to RCPT TO, so there the reply itself says which it is. Any other refusal of
 * a recipient is that address's. A refusal of the mail itself (at DATA: spam, size, content) is the
 * message's, unless the reply blames the sender or the client as at RCPT TO: Gmail, OpenDMARC and
 * milters refuse a mail failing DMARC, SPF or DKIM, or a blocklisted client, only at the end of
 * DATA, and every mail would fail alike.
 */
function permanentCodeOf(code: string | undefined, command: string | undefined, reply: number, response: string | undefined): ProviderErrorCode {
  if (reply === 530 || (command !== undefined && SESSION_COMMANDS.has(command))) return ProviderErrorCode.Misconfigured;
  if (saysMailboxFull(response) || (reply === 552 && command === 'RCPT TO')) return ProviderErrorCode.Deferred;
  if (code !== 'EENVELOPE') return blamesTheInstallation(response) ? ProviderErrorCode.Misconfigured : ProviderErrorCode.Rejected;
  if (command !== 'RCPT TO') return ProviderErrorCode.Misconfigured;
  if (blamesTheInstallation(response)) return ProviderErrorCode.Misconfigured;
  return POLICY_STATUS.test(response ?? '') ? ProviderErrorCode.Rejected : ProviderErrorCode.InvalidEndpoint;
}

/**
 * Whether a refusal (at RCPT TO or at the end of DATA) is of the sender, the client, its HELO,
 * relaying or the sender domain's authentication, not of the recipient or the mail's content.
 */
export function blamesTheInstallation(response: string | undefined): boolean {
  const text = response ?? '';
  // Without the addresses it quotes: a recipient at relay.example.com is no relay refusal.
  const words = text.replace(/<[^>]*>/g, '');
  return SENDER_STATUS.test(text) || SENDER_AUTHENTICATION.test(words) || NOT_THE_RECIPIENT.test(words);
}

/**
 * RFC 3463's X.2.2, a full mailbox, which it calls a persistent transient failure: the user may make
 * room, so it is put off (greylisting's wait), not taken for a bad address, even given with a 5xx
 * (Dovecot's and Exchange's quota refusals), at RCPT TO or at the end of DATA. A bare 552 at RCPT TO
 * is read the same way, as RFC 5321 (4.5.3.1.10) asks of a client.
 */
const MAILBOX_FULL = /^\d{3}[ -]5\.2\.2\b/;

/** Whether a server's reply (`552 5.2.2 Mailbox full`) refuses a mail for a full mailbox. */
export function saysMailboxFull(response: string | undefined): boolean {
  return MAILBOX_FULL.test(response ?? '');
}
/** RFC 3463's X.1.7 and X.1.8: the sender's mailbox or its system is refused. */
const SENDER_STATUS = /^\d{3}[ -][45]\.1\.[78]\b/;
/**
 * The sender domain's authentication failed: RFC 7372's X.7.20 to X.7.27 (no valid DKIM signature,
 * SPF failed or in error, reverse DNS failed, several checks failed — Gmail's DMARC refusal — or a
 * sender domain with a null MX), Microsoft's X.7.515 (the sender domain's authentication is below
 * what it asks), or a reply naming DMARC, SPF or DKIM (OpenDMARC's `550 5.7.1 rejected by DMARC
 * policy`). The installation's DNS or signing is wrong, not the recipient or the content.
 */
const SENDER_AUTHENTICATION = /^\d{3}[ -][45]\.7\.(?:2[0-7]|515)\b|\b(?:DMARC|SPF|DKIM)\b/i;
/** RFC 3463's X.7.x: a policy refused the mail. */
const POLICY_STATUS = /^\d{3}[ -][45]\.7\.\d{1,3}/;
/**
 * A refusal at RCPT TO that denies relaying or names the client, its HELO or the sender rather than
 * the recipient. Relaying only as a refusal's words: Postfix's `User unknown in relay recipient
 * table`, or a relay's host named in a reply, is the recipient's. The client's address on a
 * blocklist in the big providers' words too (Microsoft's `banned sending IP`, Yahoo's `[BL21]` and
 * `the ip is in Spamhaus's list`; a blocklist of the recipient's domain is not ours), and a
 * server's check of our sender address failing (Exim's `Sender verify failed`).
 */
const NOT_THE_RECIPIENT =
  /relay(?:ing)? (?:access )?(?:denied|rejected|not allowed|not permitted|prohibited)|relaying to \S* ?denied|unable to relay|do(?:es)? not relay|credentials for relay|allowed rcpthosts|sender address rejected|client host (?:\[[^\]]*\] )?(?:rejected|blocked)|helo command rejected|banned sending ip|\[BL\d+\]|\bip is in \S+ list\b|sender verify failed|verification failed for|sender address does not exist/i;
