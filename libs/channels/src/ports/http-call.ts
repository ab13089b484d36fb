import { ProviderError, ProviderErrorCode } from './provider-error';

export interface HttpCall {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * One HTTP request to a vendor. Redirects are never followed: a vendor API does not redirect, and
 * following one could carry our credentials to another host. Transport failures become `network`.
 */
export async function httpCall(provider: string, call: HttpCall): Promise<HttpAnswer> {
  let response: Response;
  try {
    response = await fetch(call.url, {
      method: call.method,
      headers: call.headers,
      body: call.body,
      redirect: 'manual',
      signal: call.signal,
    });
  } catch (error) {
    if (call.signal.aborted) throw error;
    throw new ProviderError({ provider, code: ProviderErrorCode.Network, message: `request to ${originOf(call.url)} failed: ${transportReason(error)}`, cause: error });
  }
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    throw new ProviderError({
      provider,
      code: ProviderErrorCode.Misconfigured,
      status: response.status,
      message: `${originOf(call.url)} answered a redirect (${response.status}) to ${redirectTarget(response)}; redirects are not followed, check the base URL`,
    });
  }
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Parses a JSON answer; a vendor answering something else is `unexpected`, not a crash. */
export function jsonOf(provider: string, answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.body) as unknown;
  } catch (error) {
    throw new ProviderError({
      provider,
      code: ProviderErrorCode.Unexpected,
      status: answer.status,
      message: `answer with status ${answer.status} is not JSON: ${answer.body.slice(0, 120)}`,
      cause: error,
    });
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}

function redirectTarget(response: Response): string {
  const location = response.headers.get('location');
  return location === null ? 'nowhere' : originOf(new URL(location, response.url || 'http://invalid').toString());
}

function transportReason(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${cause.message}` : cause.message;
  }
  return String(cause);
}
