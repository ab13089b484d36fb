import { ProviderError, ProviderErrorCode, maskToken, parseRetryAfter, type HttpAnswer, type PushResult } from '../../ports';

type Mapping = { code: ProviderErrorCode; deactivateToken?: boolean };

interface XiaomiBody {
  result?: string;
  code?: number;
  reason?: string;
  description?: string;
  data?: { id?: string; bad_regids?: string };
}

/**
 * Mi Push server error codes the adapter acts on (its server error code table); others are
 * `unexpected` and retried later. 20301 is "sending failed": every regid dead only with the reason
 * "No valid targets", else a failure on Mi Push's side. The installation's own setup is
 * `misconfigured` (an alert, retried after the configuration wait, no circuit opened): its app
 * barred or its operations forbidden (10031, 10036), a restricted request (21303), sends waiting for
 * its review in Mi's console (26006), a channel id that is not the app's (27001,
 * `PUSH_XIAOMI_CHANNEL_ID`), and a receipt callback Mi refuses (65036-65038, `PUSH_XIAOMI_RECEIPT_URL`).
 */
const CODES: Record<number, Mapping> = {
  10008: { code: ProviderErrorCode.Rejected },
  10016: { code: ProviderErrorCode.Rejected },
  10017: { code: ProviderErrorCode.Rejected },
  10027: { code: ProviderErrorCode.RateLimited },
  10031: { code: ProviderErrorCode.Misconfigured },
  10034: { code: ProviderErrorCode.RateLimited },
  10036: { code: ProviderErrorCode.Misconfigured },
  20301: { code: ProviderErrorCode.Unavailable },
  21301: { code: ProviderErrorCode.BadCredentials },
  21302: { code: ProviderErrorCode.BadCredentials },
  21303: { code: ProviderErrorCode.Misconfigured },
  22000: { code: ProviderErrorCode.Misconfigured },
  22006: { code: ProviderErrorCode.Misconfigured },
  22022: { code: ProviderErrorCode.Misconfigured },
  26006: { code: ProviderErrorCode.Misconfigured },
  27001: { code: ProviderErrorCode.Misconfigured },
  65009: { code: ProviderErrorCode.Rejected },
  65014: { code: ProviderErrorCode.Rejected },
  65015: { code: ProviderErrorCode.Rejected },
  65036: { code: ProviderErrorCode.Misconfigured },
  65037: { code: ProviderErrorCode.Misconfigured },
  65038: { code: ProviderErrorCode.Misconfigured },
  200001: { code: ProviderErrorCode.RateLimited },
};
const NO_VALID_TARGETS: Mapping = { code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true };
const DAY_MS = 86_400_000;
/** China Standard Time, UTC+8 all year: the day of Mi Push's daily quotas. */
const CHINA_OFFSET_MS = 8 * 3_600_000;
/** The app's messages for the day (10034) and its delivered pushes for the day ("exceed quota", 200001) are used up. */
const DAILY_QUOTA = new Set([10034, 200001]);

/** One result per regid: `bad_regids` fail and should be deactivated, the rest share the message id. */
export function xiaomiResults(answer: HttpAnswer, regids: string[], acceptedAt: Date): PushResult[] {
  const body = parse(answer.body);
  if (answer.status === 200 && body.result === 'ok' && body.code === 0) {
    const bad = new Set((body.data?.bad_regids ?? '').split(',').filter((regid) => regid !== ''));
    const messageId = body.data?.id ?? '';
    return regids.map((regid) =>
      bad.has(regid) ? { token: regid, error: regidError(regid, answer.status) } : { token: regid, receipt: { providerMessageId: messageId, acceptedAt } },
    );
  }
  const noValidTargets = body.code === 20301 && /no valid targets/i.test(body.reason ?? body.description ?? '');
  const mapping = noValidTargets ? NO_VALID_TARGETS : ((body.code === undefined ? undefined : CODES[body.code]) ?? byStatus(answer.status));
  if (mapping.deactivateToken === true) return regids.map((regid) => ({ token: regid, error: regidError(regid, answer.status, body.code) }));
  throw new ProviderError({
    provider: 'xiaomi',
    code: mapping.code,
    vendorCode: body.code === undefined ? undefined : String(body.code),
    status: answer.status,
    // The daily quota comes back at midnight in China; retried sooner, a delivery spends its attempts for nothing.
    retryAfterMs: DAILY_QUOTA.has(body.code ?? 0) ? DAY_MS - ((acceptedAt.getTime() + CHINA_OFFSET_MS) % DAY_MS) : parseRetryAfter(answer.headers.get('retry-after'), acceptedAt.getTime()),
    // Mi Push's text can quote a regid it was sent: each is masked, as the HMS adapter does.
    message: `batch of ${regids.length} refused with ${answer.status} ${body.code ?? ''}: ${maskedRegids(body.reason ?? body.description ?? 'no reason', regids)}`,
  });
}

function maskedRegids(text: string, regids: string[]): string {
  return regids.reduce((masked, regid) => (regid.length > 0 ? masked.split(regid).join(maskToken(regid)) : masked), text);
}

function regidError(regid: string, status: number, code?: number): ProviderError {
  return new ProviderError({
    provider: 'xiaomi',
    code: ProviderErrorCode.InvalidEndpoint,
    deactivateToken: true,
    vendorCode: code === undefined ? 'bad_regids' : String(code),
    status,
    message: `regid ${maskToken(regid)} is invalid`,
  });
}

function parse(text: string): XiaomiBody {
  try {
    return JSON.parse(text) as XiaomiBody;
  } catch {
    return {};
  }
}

function byStatus(status: number): Mapping {
  if (status === 401 || status === 403) return { code: ProviderErrorCode.BadCredentials };
  if (status === 429) return { code: ProviderErrorCode.RateLimited };
  if (status >= 500) return { code: ProviderErrorCode.Unavailable };
  return { code: ProviderErrorCode.Unexpected };
}
