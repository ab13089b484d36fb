// The two codec packages ship no type declarations; these are the parts `compression.ts` uses.

declare module 'kafkajs-snappy' {
  /** kafkajs's codec factory for snappy (plain and xerial-framed, as the Java client writes it). */
  const snappy: () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };
  export default snappy;
}

declare module 'lz4js' {
  /** An LZ4 frame (the format Kafka's lz4 batches use) of `src`. */
  export function compress(src: Uint8Array): Uint8Array | number[];
  /** The bytes of an LZ4 frame. */
  export function decompress(src: Uint8Array): Uint8Array | number[];
}
