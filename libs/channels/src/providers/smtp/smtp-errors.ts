import { ProviderError, ProviderErrorCode, maskEmail } from '../../ports';

/** The fields nodemailer puts on its errors. */
interface NodemailerFailure {
  code?: string;
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

function codeOf({ code, command, response }: NodemailerFailure, reply: number | undefined): ProviderErrorCode {
  if (code === 'EAUTH' || code === 'ENOAUTH') return ProviderErrorCode.BadCredentials;
  if (code === 'ETLS' || code === 'EDNS') return ProviderErrorCode.Misconfigured;
  if (reply !== undefined && reply >= 400 && reply < 500) return ProviderErrorCode.Unavailable;
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
 * to blame. Any other refusal of a recipient is that address's; a refusal of the mail itself (at
 * DATA: spam, size, content) is the message's.
 */
function permanentCodeOf(code: string | undefined, command: string | undefined, reply: number, response: string | undefined): ProviderErrorCode {
  if (reply === 530 || (command !== undefined && SESSION_COMMANDS.has(command))) return ProviderErrorCode.Misconfigured;
  if (code !== 'EENVELOPE') return ProviderErrorCode.Rejected;
  if (command !== 'RCPT TO') return ProviderErrorCode.Misconfigured;
  const policy = /^\d{3}[ -]5\.7\.\d{1,3}/.test(response ?? '');
  if (policy && /relay/i.test(response ?? '')) return ProviderErrorCode.Misconfigured;
  return policy ? ProviderErrorCode.Rejected : ProviderErrorCode.InvalidEndpoint;
}
