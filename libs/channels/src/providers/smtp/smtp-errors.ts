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

/**
 * A 5xx is the address's fault only when the server refused the recipient for something other than
 * policy. Refusing the sender (MAIL FROM), asking for a login (530) or denying relay or access (5.7.x:
 * "relaying denied", "sender not authorized") is this installation's configuration: every mail would
 * fail alike, and none of their addresses is to blame.
 */
function permanentCodeOf(code: string | undefined, command: string | undefined, reply: number, response: string | undefined): ProviderErrorCode {
  const enhanced = /^\d{3}[ -](\d)\.(\d{1,3})\.\d{1,3}/.exec(response ?? '');
  if (reply === 530 || (enhanced?.[1] === '5' && enhanced[2] === '7')) return ProviderErrorCode.Misconfigured;
  if (code !== 'EENVELOPE') return ProviderErrorCode.Rejected;
  return command === 'RCPT TO' ? ProviderErrorCode.InvalidEndpoint : ProviderErrorCode.Misconfigured;
}
