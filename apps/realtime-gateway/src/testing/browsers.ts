import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';
import { REALTIME_NAMESPACE, type InboxMessage, type StoredAck } from '@notify/contracts';

/**
 * A browser of `userId` on the gateway at `port` (its token signed with `secret`), connected, that
 * acknowledges every message it receives and keeps its id. It does not reconnect by itself.
 */
export async function acknowledgingBrowser(port: number, userId: string, secret: string): Promise<{ socket: Socket; received: string[] }> {
  const token = jwt.sign({ sub: userId }, secret, { algorithm: 'HS256', expiresIn: '1h' });
  const socket = io(`http://127.0.0.1:${port}${REALTIME_NAMESPACE}`, { auth: { token }, transports: ['websocket'], reconnection: false });
  const received: string[] = [];
  socket.on('notification', (m: InboxMessage, ack: (reply?: StoredAck) => void) => {
    received.push(m.id);
    ack({ ok: true });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, received };
}

/** A promise's state, read without waiting for it. */
export function watched<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise, settled: () => settled };
}
