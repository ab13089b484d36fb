import { decompress as zstdDecompress } from 'fzstd';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import snappy from 'kafkajs-snappy';
import * as lz4 from 'lz4js';

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const asBuffer = (bytes: Uint8Array | number[]): Buffer => (bytes instanceof Uint8Array ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes));

const lz4Codec = (): Codec => ({
  compress: async ({ buffer }) => asBuffer(lz4.compress(buffer)),
  decompress: async (buffer) => asBuffer(lz4.decompress(buffer)),
});

const zstdCodec = (): Codec => ({
  compress: async () => {
    throw new Error('this platform reads zstd but does not write it: produce with gzip or no compression');
  },
  decompress: async (buffer) => asBuffer(zstdDecompress(buffer)),
});

/**
 * Lets kafkajs read every codec a Kafka producer may use. It reads gzip by itself; a batch that a
 * client in another language compressed with snappy, lz4 or zstd (each a one-line setting of the Java
 * client) failed the whole fetch, every partition of it, and the consumer crashed, again after every
 * restart. The platform's own producers write gzip or nothing. Idempotent; `createKafka` calls it.
 */
export function registerCompressionCodecs(): void {
  CompressionCodecs[CompressionTypes.Snappy] = snappy;
  CompressionCodecs[CompressionTypes.LZ4] = lz4Codec;
  CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;
}
