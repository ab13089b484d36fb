import { MessageType, type ClusterAdapter, type ClusterMessage } from 'socket.io-adapter';

/** What socket.io's `io.adapter()` takes: it calls it with `new` and the namespace. */
export type AdapterFactory = (nsp: unknown) => ClusterAdapter;

/** After the emitting gateway's timeout: a reply later than that is dropped there anyway. */
const FORGET_AFTER_TIMEOUT_MS = 1_000;

/**
 * The cluster adapter `make` makes, telling `hear` of each message another gateway publishes, after
 * the adapter has handled it. `onMessage` is the adapter's (protected) handler of what the other
 * gateways publish; its own messages do not reach it.
 */
export function hearingPeers(make: AdapterFactory, hear: (message: ClusterMessage, adapter: ClusterAdapter) => void): AdapterFactory {
  return function (nsp: unknown): ClusterAdapter {
    const adapter = make(nsp);
    const relay = adapter as unknown as { onMessage(message: ClusterMessage, offset?: string): void };
    const onMessage = relay.onMessage.bind(adapter);
    relay.onMessage = (message, offset) => {
      onMessage(message, offset);
      hear(message, adapter);
    };
    return adapter;
  };
}

/**
 * The cluster adapter `make` makes, forgetting at their timeout the acknowledgements it waits for
 * on behalf of other gateways. socket.io forgets an emit's acknowledgement at its timeout only on the
 * gateway that emitted it. A gateway that relays another's emit to its own connections kept the
 * callback, and the message it holds, until the connection closed: a client that does not
 * acknowledge (one whose sync failed, one that ignores acknowledgements) grew the gateway holding it
 * by every message the others sent it, up to its token's lifetime.
 */
export function forgettingRelayedAcks(make: AdapterFactory): AdapterFactory {
  return hearingPeers(make, (message, adapter) => {
    if (message.type === MessageType.BROADCAST && message.data.requestId !== undefined) forgetAtTimeout(adapter, message.data);
  });
}

type Broadcast = Extract<ClusterMessage, { type: MessageType.BROADCAST }>['data'];

function forgetAtTimeout(adapter: ClusterAdapter, { packet, opts }: Broadcast): void {
  // The relaying gateway numbered the packet as it emitted it to its connections.
  const id = (packet as { id?: number }).id;
  if (id === undefined) return;
  const timer = setTimeout(() => {
    for (const room of opts.rooms) {
      for (const socketId of adapter.rooms.get(room) ?? []) {
        const socket = adapter.nsp.sockets.get(socketId) as unknown as { acks: Map<number, unknown> } | undefined;
        socket?.acks.delete(id);
      }
    }
  }, (opts.flags.timeout ?? 0) + FORGET_AFTER_TIMEOUT_MS);
  timer.unref();
}
