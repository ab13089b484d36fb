import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(__dirname, 'post-bounce.sh');
const BOUNCE = 'From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nsorry\r\n';

/** A curl configuration naming the receipts URL, as the operator keeps it (the token on no command line). */
function configFor(url: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'post-bounce-')), 'bounce-receipts.curlrc');
  writeFileSync(file, `url = "${url}"\n`, { mode: 0o600 });
  return file;
}

/** Runs the script as a mail system's pipe does: the mail on standard input; resolves to its exit code. */
function run(args: string[], input = BOUNCE): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn('sh', [SCRIPT, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', fail);
    child.on('close', (code) => done(code ?? -1));
    // A run that stops before reading the mail closes its end first: that is not the test's failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

describe('post-bounce.sh, the pipe from the return path’s mailbox to the bounce receipts', () => {
  let server: Server;
  let config: string;
  let answer = 200;
  const received: { contentType: string | undefined; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ contentType: request.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(answer, { 'content-type': 'application/json', location: '/login' }).end('{"code":0,"msg":"ok"}');
      });
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    config = configFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}/receipts/smtp?token=t`);
  });

  afterAll(() => new Promise<void>((closed) => server.close(() => closed())));

  it('posts the mail unchanged as message/rfc822 to the URL of its configuration, and exits 0 once it is taken', async () => {
    answer = 200;
    expect(await run([config])).toBe(0);
    expect(received.at(-1)).toEqual({ contentType: 'message/rfc822', body: BOUNCE });
  });

  it('exits 75 (try again later) when the worker refuses it, redirects it or cannot be reached', async () => {
    for (const status of [302, 403, 404, 429, 500, 503]) {
      answer = status;
      expect([status, await run([config])]).toEqual([status, 75]);
    }
    const closed = createServer();
    await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    expect(await run([configFor(`http://127.0.0.1:${port}/receipts/smtp`)])).toBe(75);
  });

  it('exits 0 for a mail the worker will never take (not a mail, too large), so it is not retried for days and bounced back', async () => {
    for (const status of [400, 413]) {
      answer = status;
      expect([status, await run([config])]).toEqual([status, 0]);
    }
  });

  it('refuses to run without a readable configuration', async () => {
    expect(await run([])).toBe(64);
    expect(await run(['/nonexistent/bounce-receipts.curlrc'])).toBe(64);
  });
});
