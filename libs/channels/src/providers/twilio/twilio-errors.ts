import { ProviderError, ProviderErrorCode, maskPhone, parseRetryAfter, type HttpAnswer } from '../../ports';

/** Twilio REST error codes (twilio.com/docs/api/errors) the adapter acts on. */
const CODES: Record<number, ProviderErrorCode> = {
  20003: ProviderErrorCode.BadCredentials,
  20404: ProviderErrorCode.Misconfigured,
  20429: ProviderErrorCode.RateLimited,
  21211: ProviderErrorCode.InvalidEndpoint,
  // The sender: a From that is not valid, not this account's, not SMS-capable or ambiguous. Every
  // message would fail alike until an operator fixes it (a 400, like a refusal of one message).
  21212: ProviderErrorCode.Misconfigured,
  21214: ProviderErrorCode.InvalidEndpoint,
  21408: ProviderErrorCode.Misconfigured,
  21601: ProviderErrorCode.Misconfigured,
  21603: ProviderErrorCode.Misconfigured,
  21606: ProviderErrorCode.Misconfigured,
  // A trial account, or one without an approved compliance profile, may text only verified numbers:
  // the account's to fix, and every other number fails alike. Silent as a refusal of one message.
  21608: ProviderErrorCode.Misconfigured,
  // The StatusCallback URL (SMS_TWILIO_STATUS_CALLBACK_URL) is refused, and with it every message.
  21609: ProviderErrorCode.Misconfigured,
  21610: ProviderErrorCode.EndpointGone,
  // The From number's queue is full: it drains, so this is a wait, not a refusal (sent as a 400).
  21611: ProviderErrorCode.RateLimited,
  21612: ProviderErrorCode.InvalidEndpoint,
  21614: ProviderErrorCode.InvalidEndpoint,
  21616: ProviderErrorCode.Misconfigured,
  21617: ProviderErrorCode.Rejected,
  21659: ProviderErrorCode.Misconfigured,
  21660: ProviderErrorCode.Misconfigured,
  // The From number is not SMS-capable (a voice-only number).
  21661: ProviderErrorCode.Misconfigured,
  // The Messaging Service given as the sender: missing, unusable, without numbers or invalid.
  21701: ProviderErrorCode.Misconfigured,
  21702: ProviderErrorCode.Misconfigured,
  21703: ProviderErrorCode.Misconfigured,
  21704: ProviderErrorCode.Misconfigured,
  21705: ProviderErrorCode.Misconfigured,
};

export function twilioError(answer: HttpAnswer, to: string, now: number): ProviderError {
  const body = parse(answer.body);
  const code = typeof body.code === 'number' ? body.code : undefined;
  return new ProviderError({
    provider: 'twilio',
    code: (code === undefined ? undefined : CODES[code]) ?? byStatus(answer.status),
    vendorCode: code === undefined ? undefined : String(code),
    status: answer.status,
    retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), now),
    // Twilio's own message quotes the number; only the masked form goes into ours.
    message: `SMS to ${maskPhone(to)} refused with ${answer.status} ${code ?? ''}`,
  });
}

function parse(text: string): { code?: unknown } {
  try {
    return JSON.parse(text) as { code?: unknown };
  } catch {
    return {};
  }
}

function byStatus(status: number): ProviderErrorCode {
  if (status === 401 || status === 403) return ProviderErrorCode.BadCredentials;
  if (status === 404) return ProviderErrorCode.Misconfigured;
  if (status === 429) return ProviderErrorCode.RateLimited;
  if (status >= 500) return ProviderErrorCode.Unavailable;
  if (status >= 400) return ProviderErrorCode.Rejected;
  return ProviderErrorCode.Unexpected;
}
