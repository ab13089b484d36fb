import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON, a string as it is. */
  body?: unknown;
  /** Holds this reply back, e.g. to make a client time out. */
  delayMs?: number;
}

export type FakeHandler = (request: FakeRequest) => FakeReply | Promise<FakeReply>;

export interface FakeHttpOptions {
  /** Simulated vendor latency added to every answer. */
  latencyMs?: number;
  /** Keep every request for assertions; the benchmark turns it off. */
  record?: boolean;
}

export interface FakeHttpServer {
  url: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

/** An HTTP/1.1 server on 127.0.0.1 and a free port, answering through `handler`. */
export async function startFakeHttpServer(handler: FakeHandler, options: FakeHttpOptions = {}): Promise<FakeHttpServer> {
  const requests: FakeRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const request: FakeRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      if (options.record !== false) requests.push(request);
      void Promise.resolve(handler(request)).then((reply) => {
        const delay = (options.latencyMs ?? 0) + (reply.delayMs ?? 0);
        const send = (): void => {
          if (res.destroyed) return;
          const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
          const type = typeof reply.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
          res.writeHead(reply.status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...reply.headers });
          res.end(text);
        };
        if (delay > 0) setTimeout(send, delay).unref();
        else send();
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Replies queued by a test (`failNext`) that take precedence over the server's normal answer. */
export class ScriptedReplies<T> {
  private readonly queue: T[] = [];

  push(reply: T, times = 1): void {
    for (let i = 0; i < times; i += 1) this.queue.push(reply);
  }

  take(): T | undefined {
    return this.queue.shift();
  }
}

export function requestForm(request: FakeRequest): URLSearchParams {
  return new URLSearchParams(request.body);
}

export function requestJson(request: FakeRequest): unknown {
  try {
    return JSON.parse(request.body) as unknown;
  } catch {
    return undefined;
  }
}
