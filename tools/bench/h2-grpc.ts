import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';

/**
 * Unary gRPC calls spoken directly over HTTP/2 — a 5-byte prefix (compressed flag, length) before
 * the message, the status in `grpc-status` — for load generation: a grpc-js client does several
 * times the work per call, and on a shared machine that work and its garbage collection would be
 * measured as the server's latency.
 */
export class H2GrpcCaller {
  private readonly session: ClientHttp2Session;

  constructor(
    address: string,
    private readonly metadata: Record<string, string>,
  ) {
    this.session = connect(`http://${address}`);
    this.session.on('error', () => undefined); // each call reports its own failure
  }

  /** The reply's message bytes; a status other than OK rejects with it. */
  call(path: string, request: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...this.metadata });
      const chunks: Buffer[] = [];
      let status: IncomingHttpHeaders | undefined;
      // A reply with no message carries its status in the headers ("trailers-only"), otherwise in the trailers.
      stream.on('response', (headers) => void (headers['grpc-status'] !== undefined && (status = headers)));
      stream.on('trailers', (trailers) => void (status = trailers));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('end', () => {
        if (status?.['grpc-status'] !== '0') return reject(new Error(`grpc-status ${String(status?.['grpc-status'])}: ${String(status?.['grpc-message'] ?? '')}`));
        const reply = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        resolve(reply.subarray(5, 5 + reply.readUInt32BE(1)));
      });
      const frame = Buffer.allocUnsafe(5 + request.length);
      frame[0] = 0;
      frame.writeUInt32BE(request.length, 1);
      frame.set(request, 5);
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}
