import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';

/**
 * The client side of `bench:gateway`, in a process of its own: opens `count` acknowledging
 * connections from source address `address`, reports when they are up, and measures the age of
 * every notification it receives (since its `data.producedAt`, and since the message center planned it,
 * its `createdAt`), reporting counts and latencies to the parent.
 */
const [first, count, port, address, secret] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5], process.argv[6]!];
const latencies: number[] = [];
/** From the message center's planning (the message's `createdAt`) to arrival: its transaction, the second hop and the gateway. */
const sinceCreated: number[] = [];
let received = 0;

async function main(): Promise<void> {
  const sockets: Socket[] = [];
  for (let i = first; i < first + count; i += 200) {
    const opened = Array.from({ length: Math.min(200, first + count - i) }, (_, j) => open(i + j));
    sockets.push(...(await Promise.all(opened)));
  }
  process.send!({ kind: 'connected', count: sockets.length });
  process.on('message', (message: { kind: string }) => {
    if (message.kind === 'report') process.send!({ kind: 'report', received, latencies: latencies.splice(0), sinceCreated: sinceCreated.splice(0) });
    if (message.kind === 'close') {
      for (const socket of sockets) socket.disconnect();
      process.exit(0);
    }
  });
}

function open(n: number): Promise<Socket> {
  const token = jwt.sign({ sub: `bench-user-${n}` }, secret, { expiresIn: '2h' });
  const socket = io(`http://127.0.0.1:${port}/notifications`, { auth: { token }, transports: ['websocket'], reconnection: false, localAddress: address } as never);
  socket.on('notification', (message: { data: { producedAt?: number }; createdAt: string }, ack: (reply: unknown) => void) => {
    received += 1;
    if (typeof message.data.producedAt === 'number') {
      latencies.push(Date.now() - message.data.producedAt);
      sinceCreated.push(Date.now() - Date.parse(message.createdAt));
    }
    ack({ ok: true });
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`clients failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
