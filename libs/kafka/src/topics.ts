import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaJSError, type Admin, type Kafka } from 'kafkajs';
import { isDeadLetterTopic } from './dead-letter';

export interface TopicSettings {
  partitions: number;
  /** Unset: `replicationFactorFor` the cluster's brokers. */
  replicationFactor?: number;
}

/**
 * The replication factor of a topic created without one set: three copies where the cluster has
 * three brokers or more, else one per broker. A fixed 1 made every topic of a production cluster
 * live on one broker's disk, and lose the requests and jobs not consumed yet with it.
 */
export function replicationFactorFor(brokers: number): number {
  return Math.max(1, Math.min(3, brokers));
}

/**
 * The largest record batch a dead-letter topic takes: room for the copy of any record its source topic
 * took (1 MiB by the broker's default), with the error headers added, even when it does not compress.
 */
export const DEAD_LETTER_MAX_BYTES = 8 * 1024 * 1024;

/** The replicas that must have a record before a produce with acks=all is answered: all but one, at most two. */
export function minInSyncReplicas(replicationFactor: number): number {
  return Math.max(1, Math.min(2, replicationFactor - 1));
}

/** How long a retriable error in creating topics waits for them to be listed before it counts. */
const TOPICS_LISTED_WITHIN_MS = 15_000;

async function allListed(admin: Admin, topics: readonly string[], withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const listed = new Set(await admin.listTopics());
    if (topics.every((topic) => listed.has(topic))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/** The topics `ensureTopics` created, and with how many copies of each partition (none created: undefined). */
export interface CreatedTopics {
  created: string[];
  replicationFactor?: number;
}

/**
 * Creates the topics that are missing; existing topics are left as they are. Without a replication
 * factor set, the brokers counted are those up at that moment: a topic first made while one of three
 * was down keeps two copies (the app logs the factor it chose).
 */
export async function ensureTopics(kafka: Kafka, topics: readonly string[], settings: TopicSettings): Promise<CreatedTopics> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((topic) => !existing.has(topic));
    if (missing.length === 0) return { created: [] };
    const replicationFactor = settings.replicationFactor ?? replicationFactorFor((await admin.describeCluster()).brokers.length);
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: settings.partitions,
          replicationFactor,
          configEntries: [
            // acks=all waits only for the replicas in sync: with the broker's default of 1 a leader
            // alone acknowledged while its followers lagged, and a copy lost with it lost the record.
            // Two when there are three copies; one when there are fewer (more would refuse every produce).
            { name: 'min.insync.replicas', value: String(minInSyncReplicas(replicationFactor)) },
            ...(isDeadLetterTopic(topic) ? [{ name: 'max.message.bytes', value: String(DEAD_LETTER_MAX_BYTES) }] : []),
          ],
        })),
      });
    } catch (error) {
      // Another app may have created some of them at the same moment, and a broker names a topic just
      // created (by this app or another) only once its metadata has reached it: until then it answers
      // "does not host this topic-partition", a retriable error. Only a topic still missing after that
      // wait is a failure. (On a fresh broker the gateway's start failed this way while the message
      // center was creating the topics they share.)
      const wait = error instanceof KafkaJSError && error.retriable ? TOPICS_LISTED_WITHIN_MS : 0;
      if (!(await allListed(admin, missing, wait))) throw error;
    }
    return { created: missing, replicationFactor };
  } finally {
    await admin.disconnect();
  }
}
