import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';

const SCRIPT = resolve(__dirname, 'post-bounce.sh');
const BOUNCE = 'From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nsorry\r\n';

/** Runs the script as a mail system's pipe does: the mail on standard input; resolves to its exit code. */
function run(args: string[], input = BOUNCE): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn('sh', [SCRIPT, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', fail);
    child.on('close', (code) => done(code ?? -1));
    child.stdin.end(input);
  });
}

describe('post-bounce.sh, the pipe from the return path’s mailbox to the bounce receipts', () => {
  let server: Server;
  let url: string;
  let answer = 200;
  const received: { contentType: string | undefined; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ contentType: request.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(answer, { 'content-type': 'application/json' }).end('{"code":0,"msg":"ok"}');
      });
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/receipts/smtp?token=t`;
  });

  afterAll(() => new Promise<void>((closed) => server.close(() => closed())));

  it('posts the mail unchanged as message/rfc822 and exits 0 once it is taken', async () => {
    answer = 200;
    expect(await run([url])).toBe(0);
    expect(received.at(-1)).toEqual({ contentType: 'message/rfc822', body: BOUNCE });
  });

  it('exits 75 (try again later) when the worker refuses it or cannot be reached, never 0 or a permanent failure', async () => {
    for (const status of [403, 500, 503]) {
      answer = status;
      expect(await run([url])).toBe(75);
    }
    const closed = createServer();
    await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    expect(await run([`http://127.0.0.1:${port}/receipts/smtp`])).toBe(75);
  });

  it('refuses to run without the URL', async () => {
    expect(await run([])).toBe(64);
  });
});
