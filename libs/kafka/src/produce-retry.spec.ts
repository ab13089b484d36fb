/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * kafkajs's produce call as this project patches it (D23): a retry sends the partitions not yet
 * written, each to its current leader. Unpatched, it kept one answer per broker across its retries,
 * so a partition whose leader moved (a broker restart, a preferred-leader election) to a broker that
 * had already answered for another partition was never sent again, and the call succeeded without it.
 * The cluster and its brokers here are stand-ins; the code under test is kafkajs's own.
 */
import { Partitioners } from 'kafkajs';

const sendMessages = require('kafkajs/src/producer/sendMessages') as (deps: unknown) => (request: unknown) => Promise<{ topicName: string; partition: number }[]>;
const createRetry = require('kafkajs/src/retry') as (options: unknown) => unknown;
const { KafkaJSBrokerNotFound, KafkaJSProtocolError } = require('kafkajs/src/errors') as {
  KafkaJSBrokerNotFound: new (message: string) => Error;
  KafkaJSProtocolError: new (error: unknown) => Error;
};
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => unknown };

interface TopicData {
  topic: string;
  partitions: { partition: number; messages: { value: string }[] }[];
}

/** A broker that records what it is sent, and refuses its first produce as no longer the leader when told to. */
function broker(nodeId: number, refusesFirst: boolean) {
  const written: string[] = [];
  let refused = !refusesFirst;
  return {
    nodeId,
    written,
    produce: async ({ topicData }: { topicData: TopicData[] }) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (!refused) {
        refused = true;
        throw new KafkaJSProtocolError(createErrorFromCode(6)); // NOT_LEADER_FOR_PARTITION
      }
      for (const { topic, partitions } of topicData) for (const { partition, messages } of partitions) written.push(...messages.map((m) => `${topic}/${partition}/${m.value}`));
      return { topics: topicData.map(({ topic, partitions }) => ({ topicName: topic, partitions: partitions.map(({ partition }) => ({ partition, errorCode: 0, baseOffset: '0' })) })) };
    },
  };
}

/** A producer without transactions or idempotence, as the platform's. */
const eosManager = {
  acquireBrokerLock: async () => undefined,
  releaseBrokerLock: async () => undefined,
  isTransactional: () => false,
  getSequence: () => 0,
  updateSequence: () => undefined,
  getProducerId: () => -1,
  getProducerEpoch: () => 0,
};
const logger = { debug: () => undefined, error: () => undefined, info: () => undefined, warn: () => undefined };

describe('kafkajs producing (patched): a retry after a leader moved', () => {
  it('sends the partition whose leader moved to a broker that had already answered, and the call succeeds only then', async () => {
    const [b1, b2] = [broker(1, false), broker(2, true)];
    // p0 led by broker 1, p1 by broker 2; broker 2 gives p1 up, and the refreshed metadata names broker 1.
    const leaders = new Map([
      [0, 1],
      [1, 2],
    ]);
    const partitionMetadata = () => [...leaders].map(([partitionId, leader]) => ({ partitionId, leader }));
    const cluster = {
      targetTopics: new Set<string>(),
      addMultipleTargetTopics: async () => undefined,
      refreshMetadataIfNecessary: async () => undefined,
      refreshMetadata: async () => void leaders.set(1, 1),
      isConnected: () => true,
      findTopicPartitionMetadata: () => partitionMetadata(),
      findLeaderForPartitions: (_topic: string, partitions: string[]) => {
        const result: Record<number, number[]> = {};
        for (const id of partitions.map(Number)) (result[leaders.get(id)!] ??= []).push(id);
        return result;
      },
      findBroker: async ({ nodeId }: { nodeId: string }) => (Number(nodeId) === 1 ? b1 : b2),
    };
    const send = sendMessages({
      logger,
      cluster,
      partitioner: ({ message }: { message: { partition: number } }) => message.partition,
      eosManager,
      retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
    });

    const answers = await send({
      acks: -1,
      timeout: 1_000,
      topicMessages: [{ topic: 'notify.events', messages: [{ partition: 0, value: 'a' }, { partition: 1, value: 'b' }] }],
    });

    expect(b1.written.sort()).toEqual(['notify.events/0/a', 'notify.events/1/b']);
    expect(b2.written).toEqual([]);
    expect(answers.map((a) => `${a.topicName}/${a.partition}`).sort()).toEqual(['notify.events/0', 'notify.events/1']);
  });
});

/**
 * A stand-in cluster as kafkajs's own answers it: `findLeaderForPartitions` groups by the leader the
 * metadata names (-1 when a partition has none) and `findBroker` throws for a node it does not know.
 * Its metadata changes only when the producer refreshes it: each refresh takes the next of `refreshed`.
 */
function standInCluster(leaders: Record<number, number>, refreshed: Record<number, number>[], brokers: ReturnType<typeof broker>[]) {
  let current = leaders;
  const partitionMetadata = () => Object.entries(current).map(([partitionId, leader]) => ({ partitionId: Number(partitionId), leader }));
  return {
    targetTopics: new Set<string>(),
    addMultipleTargetTopics: async () => undefined,
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => void (current = refreshed.shift() ?? current),
    isConnected: () => true,
    findTopicPartitionMetadata: () => partitionMetadata(),
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const result: Record<number, number[]> = {};
      for (const id of partitions.map(Number)) if (id in current) (result[current[id]!] ??= []).push(id);
      return result;
    },
    findBroker: async ({ nodeId }: { nodeId: string }) => {
      const found = brokers.find((b) => b.nodeId === Number(nodeId));
      if (!found) throw new KafkaJSBrokerNotFound(`Broker ${nodeId} not found in the cached metadata`);
      return found;
    },
  };
}

describe('kafkajs producing (patched): a retry of keyless records', () => {
  // The platform's producers partition with kafkajs's DefaultPartitioner (kafka.module.ts, notify-client.ts):
  // a keyless record (a dead-letter copy of a keyless request, say) goes round-robin over the partitions
  // that have a leader, and the counter moves on with every record it places.
  const values = ['a', 'b', 'c', 'd'];
  const sendKeyless = (clusterStandIn: ReturnType<typeof standInCluster>) =>
    sendMessages({
      logger,
      cluster: clusterStandIn,
      partitioner: Partitioners.DefaultPartitioner(),
      eosManager,
      retrier: createRetry({ retries: 5, initialRetryTime: 1, maxRetryTime: 5 }),
    })({ acks: -1, timeout: 1_000, topicMessages: [{ topic: 'notify.dead-letters', messages: values.map((value) => ({ key: null, value })) }] });

  /** Each value with the partitions it was written to, over all brokers. */
  const writtenTo = (brokers: ReturnType<typeof broker>[]) => {
    const partitions = new Map<string, Set<string>>();
    for (const b of brokers) for (const record of b.written) {
      const [, partition, value] = record.split('/');
      if (!partitions.has(value!)) partitions.set(value!, new Set());
      partitions.get(value!)!.add(partition!);
    }
    return partitions;
  };

  it('sends the refused partition its own records once it has a leader again, though it had none at the first retry', async () => {
    const brokers = [broker(1, false), broker(2, true), broker(3, false)];
    // Broker 2 gives p1 up; the first refresh finds p1 without a leader (an election under way), the next names broker 3.
    const answers = await sendKeyless(standInCluster({ 0: 1, 1: 2, 2: 3 }, [{ 0: 1, 1: -1, 2: 3 }, { 0: 1, 1: 3, 2: 3 }], brokers));

    const written = writtenTo(brokers);
    expect([...written.keys()].sort()).toEqual(values);
    for (const value of values) expect(written.get(value)!.size).toBe(1);
    expect(answers.map((a) => a.partition).sort()).toEqual([0, 1, 2]);
  });

  it('sends the refused partition its own records when the round-robin counter has moved on by the retry', async () => {
    const brokers = [broker(1, false), broker(2, true), broker(3, false)];
    // Four records over three partitions: placed again at the retry, each would land one partition further on.
    const answers = await sendKeyless(standInCluster({ 0: 1, 1: 2, 2: 3 }, [{ 0: 1, 1: 3, 2: 3 }], brokers));

    const written = writtenTo(brokers);
    expect([...written.keys()].sort()).toEqual(values);
    for (const value of values) expect(written.get(value)!.size).toBe(1);
    expect(answers.map((a) => a.partition).sort()).toEqual([0, 1, 2]);
  });
});
