import { isDeadLetterTopic } from './dead-letter';
import type { Kafka } from 'kafkajs';

export interface TopicSettings {
  partitions: number;
  replicationFactor: number;
}

/**
 * The largest record batch a dead-letter topic takes: room for the copy of any record its source topic
 * took (1 MiB by the broker's default), with the error headers added, even when it does not compress.
 */
export const DEAD_LETTER_MAX_BYTES = 8 * 1024 * 1024;

/** Creates the topics that are missing; existing topics are left as they are. */
export async function ensureTopics(kafka: Kafka, topics: readonly string[], settings: TopicSettings): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((topic) => !existing.has(topic));
    if (missing.length === 0) return [];
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: settings.partitions,
          replicationFactor: settings.replicationFactor,
          configEntries: isDeadLetterTopic(topic) ? [{ name: 'max.message.bytes', value: String(DEAD_LETTER_MAX_BYTES) }] : [],
        })),
      });
    } catch (error) {
      // Another app may have created some of them at the same moment; only a topic still missing is a failure.
      const now = new Set(await admin.listTopics());
      if (missing.some((topic) => !now.has(topic))) throw error;
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}
