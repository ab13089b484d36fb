import type { CompressionTypes, Message, Producer, TopicMessages } from 'kafkajs';

/** Below the broker's default `message.max.bytes` (1 MiB) for one partition's record batch, with room for overhead. */
export const MAX_CHUNK_BYTES = 512 * 1024;

/**
 * Messages per produce call. kafkajs groups a call's messages by partition copying each partition's
 * list once per message, so a call's cost grows with the square of its size: 5,000 small events in
 * one call cost about twice as much CPU per message as in calls of 500.
 */
export const MAX_CHUNK_MESSAGES = 500;

/**
 * Produces any number of messages in calls small enough for the broker: one produce call puts each
 * partition's messages into a single record batch, and a batch over `message.max.bytes` is refused
 * whole. Resolves once every chunk is acknowledged.
 */
export async function sendInChunks(
  producer: Producer,
  topicMessages: TopicMessages[],
  {
    maxChunkBytes = MAX_CHUNK_BYTES,
    maxChunkMessages = MAX_CHUNK_MESSAGES,
    compression,
    onRefused,
  }: {
    maxChunkBytes?: number;
    maxChunkMessages?: number;
    compression?: CompressionTypes;
    /** Deals with a chunk the producer failed to send (it throws to fail the whole send); without it, the error is thrown. */
    onRefused?: (chunk: TopicMessages[], error: unknown) => Promise<void>;
  } = {},
): Promise<void> {
  let chunk: TopicMessages[] = [];
  let bytes = 0;
  let count = 0;
  const flush = async (): Promise<void> => {
    const topics = chunk.filter((t) => t.messages.length > 0);
    if (topics.length > 0) {
      try {
        await producer.sendBatch({ topicMessages: topics, compression });
      } catch (error) {
        if (!onRefused) throw error;
        await onRefused(topics, error);
      }
    }
    chunk = [];
    bytes = 0;
    count = 0;
  };
  for (const { topic, messages } of topicMessages) {
    let current: Message[] = [];
    chunk.push({ topic, messages: current });
    for (const message of messages) {
      const size = sizeOf(message);
      if ((bytes + size > maxChunkBytes || count >= maxChunkMessages) && count > 0) {
        await flush();
        current = [];
        chunk.push({ topic, messages: current });
      }
      current.push(message);
      bytes += size;
      count += 1;
    }
  }
  await flush();
}

/** Bytes of a key, value or header value as kafkajs takes them (a string, a Buffer, or nothing). */
export function byteLengthOf(v: unknown): number {
  return v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : (v as Buffer).length;
}

function sizeOf(message: Message): number {
  let headers = 0;
  for (const [key, value] of Object.entries(message.headers ?? {})) headers += key.length + byteLengthOf(value);
  return byteLengthOf(message.key) + byteLengthOf(message.value) + headers + 64;
}
