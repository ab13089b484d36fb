import { ProviderError, ProviderErrorCode, maskToken, parseRetryAfter, type HttpAnswer, type PushResult } from '../../ports';

type Mapping = { code: ProviderErrorCode; deactivateToken?: boolean };

interface XiaomiBody {
  result?: string;
  code?: number;
  reason?: string;
  description?: string;
  data?: { id?: string; bad_regids?: string };
}

/** Mi Push server error codes the adapter acts on; others are `unexpected` and retried later. */
const CODES: Record<number, Mapping> = {
  20301: { code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true },
  21301: { code: ProviderErrorCode.BadCredentials },
  22006: { code: ProviderErrorCode.Misconfigured },
  200001: { code: ProviderErrorCode.RateLimited },
};

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
  const mapping = (body.code === undefined ? undefined : CODES[body.code]) ?? byStatus(answer.status);
  if (mapping.deactivateToken === true) return regids.map((regid) => ({ token: regid, error: regidError(regid, answer.status, body.code) }));
  throw new ProviderError({
    provider: 'xiaomi',
    code: mapping.code,
    vendorCode: body.code === undefined ? undefined : String(body.code),
    status: answer.status,
    retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), acceptedAt.getTime()),
    message: `batch of ${regids.length} refused with ${answer.status} ${body.code ?? ''}: ${body.reason ?? body.description ?? 'no reason'}`,
  });
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
