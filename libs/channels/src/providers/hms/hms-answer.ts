import {
  ProviderError,
  ProviderErrorCode,
  maskToken,
  parseRetryAfter,
  type HttpAnswer,
  type PushResult,
} from '../../ports';

type Mapping = { code: ProviderErrorCode; deactivateToken?: boolean };

/** Push Kit's documented result codes (Downlink message sending: result codes). */
const CODES: Record<string, Mapping> = {
  '80100001': { code: ProviderErrorCode.Rejected },
  '80100003': { code: ProviderErrorCode.Rejected },
  '80100004': { code: ProviderErrorCode.Rejected },
  '80200001': { code: ProviderErrorCode.BadCredentials },
  '80200003': { code: ProviderErrorCode.BadCredentials },
  '80300002': { code: ProviderErrorCode.Misconfigured },
  '80300007': { code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true },
  '80300008': { code: ProviderErrorCode.Rejected },
  '80300010': { code: ProviderErrorCode.Rejected },
  '80600003': { code: ProviderErrorCode.Unavailable },
  '81000001': { code: ProviderErrorCode.Unavailable },
};

/** The OAuth token was refused as invalid or expired: fetch a new one and send again. */
export const TOKEN_REFUSED = new Set(['80200001', '80200003']);

export interface HmsAnswerBody {
  code?: string;
  msg?: string;
  requestId?: string;
}

export function hmsBody(answer: HttpAnswer): HmsAnswerBody {
  try {
    return JSON.parse(answer.body) as HmsAnswerBody;
  } catch {
    return {};
  }
}

/** One result per token (success, or partial success with `illegal_tokens`); throws a batch-wide error. */
export function hmsResults(answer: HttpAnswer, tokens: string[], acceptedAt: Date): PushResult[] {
  const body = hmsBody(answer);
  const requestId = body.requestId ?? '';
  if (answer.status === 200 && body.code === '80000000') return tokens.map((token) => ({ token, receipt: { providerMessageId: requestId, acceptedAt } }));
  if (answer.status === 200 && body.code === '80100000') {
    const illegal = new Set(illegalTokens(body.msg));
    return tokens.map((token) =>
      illegal.has(token)
        ? { token, error: tokenError(token, '80100000', answer.status) }
        : { token, receipt: { providerMessageId: requestId, acceptedAt } },
    );
  }
  if (body.code === '80300007') return tokens.map((token) => ({ token, error: tokenError(token, '80300007', answer.status) }));
  throw batchError(answer, body, tokens, acceptedAt.getTime());
}

function illegalTokens(msg: string | undefined): string[] {
  try {
    const parsed = JSON.parse(msg ?? '{}') as { illegal_tokens?: unknown };
    return Array.isArray(parsed.illegal_tokens) ? parsed.illegal_tokens.filter((token): token is string => typeof token === 'string') : [];
  } catch {
    return [];
  }
}

function tokenError(token: string, vendorCode: string, status: number): ProviderError {
  return new ProviderError({
    provider: 'hms',
    code: ProviderErrorCode.InvalidEndpoint,
    deactivateToken: true,
    vendorCode,
    status,
    message: `token ${maskToken(token)} is illegal or expired`,
  });
}

function batchError(answer: HttpAnswer, body: HmsAnswerBody, tokens: string[], now: number): ProviderError {
  const mapping = (body.code === undefined ? undefined : CODES[body.code]) ?? byStatus(answer.status, body.code !== undefined);
  // Push Kit's message can list tokens (as it does for illegal ones); only their masked form is kept.
  const said = tokens.reduce((text, token) => (token.length > 0 ? text.split(token).join(maskToken(token)) : text), body.msg ?? 'no message');
  return new ProviderError({
    provider: 'hms',
    code: mapping.code,
    deactivateToken: mapping.deactivateToken,
    vendorCode: body.code,
    status: answer.status,
    retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), now),
    message: `batch of ${tokens.length} refused with ${answer.status} ${body.code ?? ''}: ${said}`,
  });
}

/** `vendorCoded`: the answer carried a Push Kit result code (one not in CODES). */
function byStatus(status: number, vendorCoded: boolean): Mapping {
  if (status === 401) return { code: ProviderErrorCode.BadCredentials };
  if (status === 403) return { code: ProviderErrorCode.Misconfigured };
  // Without a result code, 404 is Huawei's "service not found, check the request URI" (and 405 a
  // wrong method): a wrong base URL or app id, as APNs' BadPath, not a refusal of the message.
  if ((status === 404 || status === 405) && !vendorCoded) return { code: ProviderErrorCode.Misconfigured };
  // Push Kit answers 503 for flow control, not for an outage.
  if (status === 503 || status === 429) return { code: ProviderErrorCode.RateLimited };
  if (status >= 500) return { code: ProviderErrorCode.Unavailable };
  if (status >= 400) return { code: ProviderErrorCode.Rejected };
  return { code: ProviderErrorCode.Unexpected };
}
