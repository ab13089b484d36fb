import type { CompressionTypes, Message, Producer, TopicMessages } from 'kafkajs';

/** Below the broker's default `message.max.bytes` (1 MiB) for one partition's record batch, with room for overhead. */
export const MAX_CHUNK_BYTES = 512 * 1024;

/**
 * Produces any number of messages in calls small enough for the broker: one produce call puts each
 * partition's messages into a single record batch, and a batch over `message.max.bytes` is refused
 * whole. Resolves once every chunk is acknowledged.
 */
export async function sendInChunks(
  producer: Producer,
  topicMessages: TopicMessages[],
  { maxChunkBytes = MAX_CHUNK_BYTES, compression }: { maxChunkBytes?: number; compression?: CompressionTypes } = {},
): Promise<void> {
  let chunk: TopicMessages[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (chunk.length > 0) await producer.sendBatch({ topicMessages: chunk, compression });
    chunk = [];
    bytes = 0;
  };
  for (const { topic, messages } of topicMessages) {
    let current: Message[] = [];
    chunk.push({ topic, messages: current });
    for (const message of messages) {
      const size = sizeOf(message);
      if (bytes + size > maxChunkBytes && bytes > 0) {
        await flush();
        current = [];
        chunk.push({ topic, messages: current });
      }
      current.push(message);
      bytes += size;
    }
  }
  chunk = chunk.filter((t) => t.messages.length > 0);
  await flush();
}

function sizeOf(message: Message): number {
  const length = (v: unknown): number => (v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : (v as Buffer).length);
  let headers = 0;
  for (const [key, value] of Object.entries(message.headers ?? {})) headers += key.length + length(value);
  return length(message.key) + length(message.value) + headers + 64;
}
