import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigResourceTypes, KafkaJSError, type Admin, type Kafka, type PartitionMetadata } from 'kafkajs';
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

/**
 * How long a dead-letter topic keeps its copies: 30 days, the messages' retention by default. With the
 * broker's default of 7 days, a request refused on a Friday and looked at after a week's leave was
 * gone before anyone could replay it (`npm run dead-letters`).
 */
export const DEAD_LETTER_RETENTION_MS = 30 * 86_400_000;

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

/** A setting of a topic that existed already, as found and as the platform would have created it. */
export interface TopicProblem {
  topic: string;
  setting: 'replication factor' | 'partitions' | 'min.insync.replicas' | 'max.message.bytes' | 'retention.ms' | 'cleanup.policy';
  found: string;
  wanted: string;
}

/**
 * The topics `ensureTopics` created, and with how many copies of each partition (none created:
 * undefined); the settings of those that existed already that fall short of the ones it creates
 * topics with; and, when their configs could not be read (no DescribeConfigs right), why.
 */
export interface CreatedTopics {
  created: string[];
  replicationFactor?: number;
  problems: TopicProblem[];
  unchecked?: string;
}

/** The configs of an existing topic that `topicProblems` compares. */
const CHECKED_CONFIGS = ['min.insync.replicas', 'max.message.bytes', 'retention.ms', 'cleanup.policy'];

/**
 * Creates the topics that are missing; existing topics are left as they are, but their settings are
 * read (partitions and copies from the metadata that lists the topics, configs in one DescribeConfigs)
 * and those short of the ones a topic is created with come back as `problems`: a topic made before
 * those settings existed, or by hand, kept one copy, a leader alone answering acks=all, 1 MiB
 * dead-letter topics, fewer partitions, or compaction, which on notify.requests (keyed by user)
 * deletes a user's older requests not consumed yet, and nothing said so. Without a replication
 * factor set, the brokers counted are those up at that moment: a topic first made while one of three
 * was down keeps two copies (the app logs the factor it chose).
 */
export async function ensureTopics(kafka: Kafka, topics: readonly string[], settings: TopicSettings): Promise<CreatedTopics> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const named = [...new Set(topics)];
    if (named.length === 0) return { created: [], problems: [] };
    // Every topic with its partitions: the request listTopics sends, whose partitions it drops.
    const existing = new Map((await admin.fetchTopicMetadata()).topics.map((topic) => [topic.name, topic.partitions]));
    const missing = named.filter((topic) => !existing.has(topic));
    const present = named.filter((topic) => existing.has(topic));
    const replicationFactor = settings.replicationFactor ?? replicationFactorFor((await admin.describeCluster()).brokers.length);
    if (missing.length > 0) await createTopics(admin, missing, settings.partitions, replicationFactor);
    const checked = await checkTopics(admin, present.map((topic) => ({ topic, partitions: existing.get(topic)! })), { partitions: settings.partitions, replicationFactor });
    return missing.length > 0 ? { created: missing, replicationFactor, ...checked } : { created: [], ...checked };
  } finally {
    await admin.disconnect();
  }
}

async function createTopics(admin: Admin, missing: string[], partitions: number, replicationFactor: number): Promise<void> {
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: partitions,
        replicationFactor,
        configEntries: [
          // acks=all waits only for the replicas in sync: with the broker's default of 1 a leader
          // alone acknowledged while its followers lagged, and a copy lost with it lost the record.
          // Two when there are three copies; one when there are fewer (more would refuse every produce).
          { name: 'min.insync.replicas', value: String(minInSyncReplicas(replicationFactor)) },
          ...(isDeadLetterTopic(topic)
            ? [
                { name: 'max.message.bytes', value: String(DEAD_LETTER_MAX_BYTES) },
                { name: 'retention.ms', value: String(DEAD_LETTER_RETENTION_MS) },
              ]
            : []),
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
}

/**
 * The problems of the topics that existed, in one DescribeConfigs (none asked when none existed).
 * A check that cannot read the configs does not stop the app, which works with the topics as they
 * are: it says why they went unchecked.
 */
async function checkTopics(
  admin: Admin,
  present: { topic: string; partitions: PartitionMetadata[] }[],
  settings: Required<TopicSettings>,
): Promise<Pick<CreatedTopics, 'problems' | 'unchecked'>> {
  if (present.length === 0) return { problems: [] };
  let configs: Map<string, Map<string, string>>;
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map(({ topic }) => ({ type: ConfigResourceTypes.TOPIC, name: topic, configNames: CHECKED_CONFIGS })),
    });
    configs = new Map(described.resources.map((resource) => [resource.resourceName, new Map(resource.configEntries.map((entry) => [entry.configName, entry.configValue]))]));
  } catch (error) {
    return { problems: present.flatMap((topic) => topicProblems(topic, new Map(), settings)), unchecked: error instanceof Error ? error.message : String(error) };
  }
  return { problems: present.flatMap((topic) => topicProblems(topic, configs.get(topic.topic) ?? new Map(), settings)) };
}

/**
 * How an existing topic falls short of one `ensureTopics` would create: fewer copies or partitions,
 * acks=all answered by fewer replicas than its copies call for, a dead-letter topic that takes
 * smaller records or keeps them less long, or any cleanup policy but delete. A config not read is not compared.
 */
export function topicProblems(
  { topic, partitions }: { topic: string; partitions: readonly Pick<PartitionMetadata, 'replicas'>[] },
  configs: ReadonlyMap<string, string>,
  settings: Required<TopicSettings>,
): TopicProblem[] {
  const problems: TopicProblem[] = [];
  const atLeast = (setting: TopicProblem['setting'], found: number, wanted: number) => {
    if (found < wanted) problems.push({ topic, setting, found: String(found), wanted: `at least ${wanted}` });
  };
  const copies = partitions.length === 0 ? 0 : Math.min(...partitions.map((partition) => partition.replicas.length));
  atLeast('replication factor', copies, settings.replicationFactor);
  atLeast('partitions', partitions.length, settings.partitions);
  const minInSync = configs.get('min.insync.replicas');
  if (minInSync !== undefined) atLeast('min.insync.replicas', Number(minInSync), minInSyncReplicas(copies));
  const maxMessageBytes = configs.get('max.message.bytes');
  if (isDeadLetterTopic(topic) && maxMessageBytes !== undefined) atLeast('max.message.bytes', Number(maxMessageBytes), DEAD_LETTER_MAX_BYTES);
  // -1 keeps them for ever, which is enough.
  const retentionMs = configs.get('retention.ms');
  if (isDeadLetterTopic(topic) && retentionMs !== undefined && Number(retentionMs) !== -1) atLeast('retention.ms', Number(retentionMs), DEAD_LETTER_RETENTION_MS);
  const cleanupPolicy = configs.get('cleanup.policy');
  if (cleanupPolicy !== undefined && cleanupPolicy !== 'delete') problems.push({ topic, setting: 'cleanup.policy', found: cleanupPolicy, wanted: 'delete' });
  return problems;
}

/**
 * The one warning of an app's start about the topics that existed: each problem as `topic setting
 * found (wanted …)`, and why configs went unread if they did; undefined when there is nothing to say.
 */
export function topicProblemsWarning({ problems, unchecked }: Pick<CreatedTopics, 'problems' | 'unchecked'>): string | undefined {
  const parts = [
    ...(problems.length > 0
      ? [`kafka topics that existed fall short of the settings the platform creates topics with (left as they are): ${problems.map((p) => `${p.topic} ${p.setting} ${p.found} (wanted ${p.wanted})`).join('; ')}`]
      : []),
    ...(unchecked !== undefined ? [`the configs of the kafka topics that existed could not be read, and were not checked: ${unchecked}`] : []),
  ];
  return parts.length > 0 ? parts.join('. ') : undefined;
}
