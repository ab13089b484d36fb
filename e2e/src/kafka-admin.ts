import { Kafka, logLevel } from 'kafkajs';

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
