import { WebSocketServer, type ServerOptions } from 'ws';

/**
 * How long a closing WebSocket waits for its peer's close frame before it drops the connection.
 * ws waits 30 s by default: at a gateway's shutdown one laptop asleep or one phone off the network
 * (there are always some among thousands of connections) held the HTTP server's close that long,
 * past the stop grace period, and the process was killed before its last events were published.
 */
export const CLOSE_HANDSHAKE_MS = 2_000;

/** engine.io's WebSocket server (`wsEngine`), with the close handshake bounded by `CLOSE_HANDSHAKE_MS`. */
export class ShortCloseWebSocketServer extends WebSocketServer {
  constructor(options: ServerOptions) {
    super({ ...options, closeTimeout: CLOSE_HANDSHAKE_MS } as ServerOptions);
  }
}
