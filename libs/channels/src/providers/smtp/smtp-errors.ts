import { ProviderError, ProviderErrorCode, maskEmail } from '../../ports';

/** The fields nodemailer puts on its errors. */
interface NodemailerFailure {
  code?: string;
  responseCode?: number;
  command?: string;
  message?: string;
}

/** 4xx replies are temporary by SMTP's own definition, 5xx permanent; transport failures are transient. */
export function smtpError(error: unknown, to: string): ProviderError {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as NodemailerFailure;
  const reply = failure.responseCode;
  return new ProviderError({
    provider: 'smtp',
    code: codeOf(failure.code, reply),
    vendorCode: failure.code,
    status: reply,
    message: [`mail to ${maskEmail(to)} failed:`, failure.code ?? 'error', reply, failure.command === undefined ? undefined : `after ${failure.command}`]
      .filter((part) => part !== undefined)
      .join(' '),
    cause: error,
  });
}

function codeOf(code: string | undefined, reply: number | undefined): ProviderErrorCode {
  if (code === 'EAUTH' || code === 'ENOAUTH') return ProviderErrorCode.BadCredentials;
  if (code === 'ETLS' || code === 'EDNS') return ProviderErrorCode.Misconfigured;
  if (reply !== undefined && reply >= 400 && reply < 500) return ProviderErrorCode.Unavailable;
  if (reply !== undefined && reply >= 500) return code === 'EENVELOPE' ? ProviderErrorCode.InvalidEndpoint : ProviderErrorCode.Rejected;
  if (code === 'ETIMEDOUT') return ProviderErrorCode.Timeout;
  if (code === 'ECONNECTION' || code === 'ESOCKET' || code === 'ESTREAM') return ProviderErrorCode.Network;
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return ProviderErrorCode.Rejected;
  return ProviderErrorCode.Unexpected;
}
