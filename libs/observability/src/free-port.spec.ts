import { createServer } from 'node:net';
import { freePorts } from './free-port';

describe('freePorts', () => {
  it('gives different ports, each free to listen on once it has returned', async () => {
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    const servers = await Promise.all(
      ports.map(
        (port) =>
          new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
            const server = createServer();
            server.once('error', reject);
            server.listen(port, '127.0.0.1', () => resolve(server));
          }),
      ),
    );
    await Promise.all(servers.map((server) => new Promise((closed) => server.close(closed))));
  });
});
