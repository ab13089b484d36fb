import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ProviderError, ProviderErrorCode } from './provider-error';
import { transportFailureCode } from './transport-errors';

export interface HttpCall {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/**
 * The largest answer read from a vendor. Their answers are a few kilobytes (a token list's results
 * are the largest); a base URL pointing at something else (a proxy's download, a stream) was read
 * into memory without end, by each of up to a hundred calls at once.
 */
export const MAX_ANSWER_BYTES = 1024 * 1024;

export interface HttpAnswer {
  status: number;
  headers: { get(name: string): string | null };
  body: string;
}

/**
 * HTTP/1.1 to one vendor over kept-alive connections (node:http rather than fetch: a fraction of
 * the CPU and garbage per call). Redirects are never followed: a vendor API does not redirect, and
 * following one could carry our credentials to another host. Transport failures become `network`,
 * except a certificate that does not verify or an unknown host: `misconfigured` (`transportFailureCode`).
 */
export class HttpClient {
  private readonly agents = {
    'http:': new HttpAgent({ keepAlive: true, maxFreeSockets: 1024, scheduling: 'lifo' }),
    'https:': new HttpsAgent({ keepAlive: true, maxFreeSockets: 1024, scheduling: 'lifo' }),
  };

  constructor(readonly provider: string) {}

  async call(call: HttpCall): Promise<HttpAnswer> {
    const url = new URL(call.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ProviderError({ provider: this.provider, code: ProviderErrorCode.Misconfigured, message: `${url.protocol} URLs are not supported` });
    }
    const response = await this.exchange(url, call);
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      const target = location === null ? 'nowhere' : originOf(location, url);
      throw new ProviderError({
        provider: this.provider,
        code: ProviderErrorCode.Misconfigured,
        status: response.status,
        message: `${url.origin} answered a redirect (${response.status}) to ${target}; redirects are not followed, check the base URL`,
      });
    }
    return response;
  }

  /** Ends the kept-alive connections. */
  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  private exchange(url: URL, call: HttpCall): Promise<HttpAnswer> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const body = call.body === undefined ? undefined : Buffer.from(call.body);
    return new Promise((resolve, reject) => {
      const request = send(url, {
        method: call.method,
        agent: this.agents[url.protocol as 'http:' | 'https:'],
        headers: { ...call.headers, ...(body === undefined ? {} : { 'content-length': body.length }) },
      });
      let settled = false;
      // The guard's signal aborts only a call still under way; a finished one keeps its socket.
      const cancel = (): void => {
        if (!settled) request.destroy(new Error('aborted by the provider guard'));
      };
      call.signal.addEventListener('abort', cancel, { once: true });
      if (call.signal.aborted) cancel();
      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        call.signal.removeEventListener('abort', cancel);
        outcome();
      };
      request.on('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        const tooLarge = (): void => {
          finish(() => reject(this.answerTooLarge(url, response.statusCode ?? 0)));
          request.destroy();
        };
        if (Number(response.headers['content-length'] ?? 0) > MAX_ANSWER_BYTES) return tooLarge();
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_ANSWER_BYTES) tooLarge();
          else chunks.push(chunk);
        });
        response.on('end', () =>
          finish(() => resolve({ status: response.statusCode ?? 0, headers: headerReader(response.headers), body: Buffer.concat(chunks).toString('utf8') })),
        );
        response.on('error', (error) => finish(() => reject(this.networkError(url, error))));
      });
      request.on('error', (error) => finish(() => reject(this.networkError(url, error))));
      request.end(body);
    });
  }

  private answerTooLarge(url: URL, status: number): ProviderError {
    return new ProviderError({
      provider: this.provider,
      code: ProviderErrorCode.Unexpected,
      status,
      message: `${url.origin} answered more than ${MAX_ANSWER_BYTES} bytes; no vendor answers that much, check the base URL`,
    });
  }

  private networkError(url: URL, error: Error): ProviderError {
    const code = (error as Error & { code?: unknown }).code;
    return new ProviderError({
      provider: this.provider,
      code: transportFailureCode(error),
      message: `request to ${url.origin} failed: ${typeof code === 'string' ? `${code} ` : ''}${error.message}`,
      cause: error,
    });
  }
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

function headerReader(headers: IncomingHttpHeaders): HttpAnswer['headers'] {
  return {
    get: (name) => {
      const value = headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

function originOf(location: string, base: URL): string {
  try {
    return new URL(location, base).origin;
  } catch {
    return 'an invalid URL';
  }
}
