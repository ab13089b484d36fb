import { createServer } from 'node:net';

/**
 * A TCP port on `host` that nothing listens on right now: for tests, and for an app configured with
 * port 0 whose server does not report the port it bound.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
