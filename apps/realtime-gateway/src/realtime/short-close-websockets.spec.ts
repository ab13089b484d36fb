import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { CLOSE_HANDSHAKE_MS, ShortCloseWebSocketServer } from './short-close-websockets';

describe('ShortCloseWebSocketServer', () => {
  let http: Server;
  let peer: Socket;
  afterEach(async () => {
    jest.useRealTimers();
    peer?.destroy();
    await new Promise((resolve) => http.close(resolve));
  });

  it('drops a connection whose peer never answers the close frame once CLOSE_HANDSHAKE_MS have passed, not 30 s later', async () => {
    http = createServer();
    const websockets = new ShortCloseWebSocketServer({ server: http });
    const connected = new Promise<WebSocket>((resolve) => websockets.once('connection', resolve));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as { port: number };
    // A peer that upgrades and then says nothing more: a laptop gone to sleep.
    peer = connect(port, '127.0.0.1');
    peer.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    peer.on('data', () => undefined);
    const websocket = await connected;
    const ioTurns = async (count: number) => {
      for (let i = 0; i < count && websocket.readyState !== websocket.CLOSED; i++) await new Promise((resolve) => setImmediate(resolve));
    };

    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    websocket.close();
    jest.advanceTimersByTime(CLOSE_HANDSHAKE_MS - 1);
    await ioTurns(20);
    expect(websocket.readyState).toBe(websocket.CLOSING);
    jest.advanceTimersByTime(1);
    await ioTurns(200);
    expect(websocket.readyState).toBe(websocket.CLOSED);
  });
});
