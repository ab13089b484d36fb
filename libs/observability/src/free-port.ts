import { createServer, type Server } from 'node:net';

/**
 * A TCP port on `host` that nothing listens on right now: for tests, and for an app configured with
 * port 0 whose server does not report the port it bound.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}

/**
 * `count` different free ports: all are held until each is known, as ports asked for one after
 * another (each closed before the next) can be the same one.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const server = createServer();
      servers.push(server);
      server.unref();
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, host, () => {
            const address = server.address();
            resolve(typeof address === 'object' && address ? address.port : 0);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((closed) => server.close(() => closed()))));
  }
}
