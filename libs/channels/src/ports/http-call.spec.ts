import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpClient, MAX_ANSWER_BYTES } from './http-call';

/** A local HTTP server answering every request with `body` bytes, announced or streamed. */
async function serving(bytes: number, announced: boolean): Promise<{ server: Server; url: string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, announced ? { 'content-length': String(bytes) } : {});
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let left = bytes;
    const write = (): void => {
      while (left > 0) {
        const part = chunk.subarray(0, Math.min(chunk.length, left));
        left -= part.length;
        if (!response.write(part)) return void response.once('drain', write);
      }
      response.end();
    };
    write();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe('HttpClient', () => {
  const client = new HttpClient('test');
  afterAll(() => client.close());

  const get = (url: string) => client.call({ method: 'GET', url, headers: {}, signal: new AbortController().signal });

  it('reads an answer up to the largest a vendor gives', async () => {
    const { server, url } = await serving(MAX_ANSWER_BYTES, true);
    try {
      expect((await get(url)).body).toHaveLength(MAX_ANSWER_BYTES);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('stops reading an answer larger than any vendor gives, announced or streamed, and says so', async () => {
    for (const announced of [true, false]) {
      const { server, url } = await serving(8 * MAX_ANSWER_BYTES, announced);
      try {
        await expect(get(url)).rejects.toMatchObject({ code: 'unexpected', status: 200, message: expect.stringContaining('check the base URL') });
      } finally {
        server.closeAllConnections();
        server.close();
      }
    }
  });
});
