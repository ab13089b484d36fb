import { Partitioners, type PartitionMetadata } from 'kafkajs';

/**
 * Hashes of Apache Kafka's Java client (`Utils.murmur2`, from its own unit test). A key must land in
 * the partition the Java client picks, or one user's records from a Java producer and from ours
 * would go to two partitions and lose their order (contract: keyed by user id). kafkajs's hash is
 * patched to 32-bit arithmetic (D23); these hold it to Java's.
 */
const JAVA_MURMUR2: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];

describe('the default partitioner', () => {
  it.each([3, 7, 12])('puts each key in the partition the Java client picks, of %i partitions', (count) => {
    const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 1 }) as PartitionMetadata);
    const partition = Partitioners.DefaultPartitioner();
    const picked = JAVA_MURMUR2.map(([key]) => partition({ topic: 't', partitionMetadata, message: { key, value: null } }));
    // Java: Utils.toPositive(murmur2(key)) % numPartitions.
    expect(picked).toEqual(JAVA_MURMUR2.map(([, hash]) => (hash & 0x7fffffff) % count));
  });
});
