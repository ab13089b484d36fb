import { Kafka, logLevel } from 'kafkajs';
import { Topics } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';

export function testKafka(brokers = process.env.KAFKA_BROKERS!): Kafka {
  return new Kafka({ clientId: 'e2e', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

/** How many records of the topic the consumer group has not committed yet. */
export async function consumerLag(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    return ends.reduce((lag, end) => {
      const done = committed!.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      return lag + Number(end.high) - Math.max(Number(done), Number(end.low));
    }, 0);
  } finally {
    await admin.disconnect();
  }
}

export interface GroupOnTopic {
  groupId: string;
  topic: string;
}

/** The consumer groups of a message center whose group is `group`, each with the topic it reads. */
export function messageCenterGroups(group: string): GroupOnTopic[] {
  return [
    { groupId: group, topic: Topics.requests },
    { groupId: `${group}.recipients`, topic: Topics.recipients },
    { groupId: `${group}.fallback`, topic: Topics.events },
  ];
}

/** The consumer groups a channel worker's environment names, each with the topic it reads. */
export function channelWorkerGroups(env: Record<string, string | undefined>): GroupOnTopic[] {
  const groups: [string, string][] = [
    ['CHANNEL_WORKER_PUSH_GROUP', Topics.deliver.push],
    ['CHANNEL_WORKER_SMS_GROUP', Topics.deliver.sms],
    ['CHANNEL_WORKER_EMAIL_GROUP', Topics.deliver.email],
  ];
  return groups.flatMap(([name, topic]) => (env[name] ? [{ groupId: env[name], topic }] : []));
}

/**
 * Commits each group's offsets at its topic's end, before its app starts: the app then handles what
 * its suite produces, not the history the run's earlier suites left on the shared topics. A new
 * group reads from the start: by the run's later suites, tens of thousands of records, replayed
 * into jobs and claims of other suites' deliveries while the suite's own bounds ran.
 */
export async function startGroupsAtTheEnd(kafka: Kafka, groups: GroupOnTopic[]): Promise<void> {
  await ensureTopics(kafka, [...new Set(groups.map((group) => group.topic))], { partitions: 3, replicationFactor: 1 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const { groupId, topic } of groups) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({ groupId, topic, partitions: ends.map((end) => ({ partition: end.partition, offset: end.high })) });
    }
  } finally {
    await admin.disconnect();
  }
}
