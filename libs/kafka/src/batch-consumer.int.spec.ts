import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { createLogger, Metrics } from '@notify/observability';
import { eventually } from '@notify/testing';
import { BatchConsumer, type ConsumedRecord } from './batch-consumer';
import { ensureTopics } from './topics';

const kafka = new Kafka({ clientId: 'batch-consumer-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
const logger = createLogger('batch-consumer-spec', 'silent');

/** The offsets the group has committed on the topic, as [partition, offset], by partition. */
async function committedOffsets(group: string, topic: string): Promise<[number, string][]> {
  const admin = kafka.admin();
  await admin.connect();
  const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] }).finally(() => admin.disconnect());
  return offsets!.partitions.map((p): [number, string] => [p.partition, p.offset]).sort((a, b) => a[0] - b[0]);
}

describe('BatchConsumer', () => {
  const topic = `spec.batch.${randomBytes(4).toString('hex')}`;
  const groupId = `spec-group-${randomBytes(4).toString('hex')}`;
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });

  beforeAll(async () => {
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 });
    await producer.connect();
  });
  afterAll(() => producer.disconnect());

  it('hands a batch again after its handler failed, and commits only after the handler succeeded', async () => {
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: `m${i}` })) });
    const handled: string[][] = [];
    let failuresLeft = 1;
    const first = new BatchConsumer(kafka, {
      groupId,
      topics: [topic],
      logger,
      onFatal: (error) => handled.push([`fatal: ${error.message}`]),
      handler: async (records: ConsumedRecord[]) => {
        handled.push(records.map((r) => r.value!.toString()));
        if (failuresLeft-- > 0) throw new Error('database unavailable');
      },
    });
    await first.start();
    await eventually(async () => handled.flat().filter((v) => v === 'm9').length, (n) => n >= 2);
    await first.stop();
    // The failed batch came back whole, from the same first offset.
    expect(handled[0]![0]).toBe('m0');
    expect(handled[1]![0]).toBe('m0');
    expect(new Set(handled.flat())).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `m${i}`)));

    await producer.send({ topic, messages: [{ key: 'k', value: 'after-restart' }] });
    const afterRestart: string[] = [];
    const second = new BatchConsumer(kafka, {
      groupId,
      topics: [topic],
      logger,
      onFatal: (error) => afterRestart.push(`fatal: ${error.message}`),
      handler: async (records) => void afterRestart.push(...records.map((r) => r.value!.toString())),
    });
    await second.start();
    await eventually(async () => afterRestart.length, (n) => n > 0);
    await second.stop();
    expect(afterRestart).toEqual(['after-restart']);
  });

  it('reports its lag per partition: the batch in hand and what follows it, then what follows its commit', async () => {
    const ownTopic = `spec.batch.${randomBytes(4).toString('hex')}`;
    const ownGroup = `spec-group-${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [ownTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: ownTopic, messages: Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: `m${i}` })) });
    const metrics = new Metrics('batch-consumer-spec');
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: ownGroup,
      topics: [ownTopic],
      logger,
      metrics,
      onFatal: (error) => handled.push(`fatal: ${error.message}`),
      handler: async (records) => {
        await released;
        handled.push(...records.map((r) => r.value!.toString()));
      },
    });
    const lag = async () => (await metrics.registry.getSingleMetricAsString('notify_kafka_consumer_lag')).split('\n').filter((line) => line.includes(ownGroup));
    const line = (value: number) => `notify_kafka_consumer_lag{group="${ownGroup}",topic="${ownTopic}",partition="0",app="batch-consumer-spec"} ${value}`;
    await consumer.start();
    try {
      expect(await eventually(lag, (lines) => lines.length > 0)).toEqual([line(10)]);
      release();
      expect(await eventually(lag, (lines) => lines[0] === line(0))).toEqual([line(0)]);
    } finally {
      await consumer.stop();
    }
    expect(handled).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
  });

  it('hands a batch again after its handler threw a TypeError, which kafkajs alone would take for a bug and stop at', async () => {
    const ownTopic = `spec.batch.${randomBytes(4).toString('hex')}`;
    await ensureTopics(kafka, [ownTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: ownTopic, messages: [{ key: 'k', value: 'a' }, { key: 'k', value: 'b' }] });
    const handled: string[][] = [];
    const fatal: string[] = [];
    let failuresLeft = 1;
    const consumer = new BatchConsumer(kafka, {
      groupId: `spec-group-${randomBytes(4).toString('hex')}`,
      topics: [ownTopic],
      logger,
      onFatal: (error) => fatal.push(error.message),
      handler: async (records: ConsumedRecord[]) => {
        handled.push(records.map((r) => r.value!.toString()));
        if (failuresLeft-- > 0) throw new TypeError("Cannot read properties of null (reading 'length')");
      },
    });
    await consumer.start();
    try {
      await eventually(async () => handled.length + fatal.length, (n) => n >= 2);
    } finally {
      await consumer.stop();
    }
    expect(fatal).toEqual([]);
    expect(handled).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  it('commits nothing of a batch that went on alone while its partition went to another member and came back', async () => {
    const movingTopic = `${topic}.moving`;
    const movingGroup = `${groupId}-moving`;
    await ensureTopics(kafka, [movingTopic], { partitions: 1, replicationFactor: 1 });
    const values = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `m${from + i}`);
    await producer.send({ topic: movingTopic, messages: values(0, 10).map((value) => ({ value })) });
    // The group's assignor gives the partition to the member whose id sorts first: ids begin with the client id.
    const memberOf = (clientId: string) => new Kafka({ clientId, brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
    const fatal: string[] = [];
    const handled = { first: [] as string[], second: [] as string[] };
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const member = (name: 'first' | 'second', clientId: string) =>
      new BatchConsumer(memberOf(clientId), {
        groupId: movingGroup,
        topics: [movingTopic],
        logger,
        sessionTimeoutMs: 6_000,
        rebalanceTimeoutMs: 6_000,
        detachAfterMs: 200,
        onFatal: (error) => fatal.push(`${name}: ${error.message}`),
        handler: async (records) => {
          const batch = records.map((r) => r.value!.toString());
          handled[name].push(...batch);
          // The first member's first batch is slow: it goes on alone, its partition paused.
          if (name === 'first' && batch[0] === 'm0') await held;
        },
      });
    const first = member('first', `z-first-${randomBytes(2).toString('hex')}`);
    const second = member('second', `a-second-${randomBytes(2).toString('hex')}`);
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () => (await admin.fetchOffsets({ groupId: movingGroup, topics: [movingTopic] }))[0]?.partitions[0]?.offset;
    const members = async () => (await admin.describeGroups([movingGroup])).groups[0]!;
    try {
      await first.start();
      await eventually(async () => handled.first.length, (n) => n === 10);
      // A second member joins and gets the partition: it handles the batch the first is still on, and the next.
      await second.start();
      await eventually(async () => handled.second.length, (n) => n === 10, { timeoutMs: 60_000 });
      await producer.send({ topic: movingTopic, messages: values(10, 20).map((value) => ({ value })) });
      await eventually(committed, (offset) => offset === '20', { timeoutMs: 30_000 });
      // It leaves (a rolling deploy): the partition is the first member's again.
      await second.stop();
      await eventually(members, (group) => group.state === 'Stable' && group.members.length === 1, { timeoutMs: 60_000 });
      const handledBefore = handled.first.length;
      release();
      await producer.send({ topic: movingTopic, messages: [{ value: 'after' }] });
      await eventually(async () => handled.first.slice(handledBefore), (batch) => batch.includes('after'), { timeoutMs: 30_000 });
      expect(handled.first.slice(handledBefore)).toEqual(['after']);
      expect(await committed()).toBe('21');
    } finally {
      release();
      await second.stop().catch(() => undefined);
      await first.stop();
      await admin.disconnect();
    }
    expect(fatal).toEqual([]);
    expect(handled.second).toEqual(values(0, 20));
  }, 180_000);

  it('commits nothing of a batch that went on alone while its member was dropped from the group and joined again', async () => {
    const droppedTopic = `${topic}.dropped`;
    const droppedGroup = `${groupId}-dropped`;
    await ensureTopics(kafka, [droppedTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: droppedTopic, messages: ['m0', 'm1', 'm2'].map((value) => ({ value })) });
    const admin = kafka.admin();
    await admin.connect();
    const members = async () => (await admin.describeGroups([droppedGroup])).groups[0]!.members.map((m) => m.memberId);
    const handled: string[][] = [];
    const fatal: string[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: droppedGroup,
      topics: [droppedTopic],
      logger,
      sessionTimeoutMs: 6_000,
      rebalanceTimeoutMs: 6_000,
      detachAfterMs: 200,
      onFatal: (error) => fatal.push(error.message),
      handler: async (records) => {
        handled.push(records.map((r) => r.value!.toString()));
        if (handled.length > 1) return;
        // Gone on alone, the batch stalls the process past the session (as a long pause would): the
        // group drops the member, which joins again under a new id before the batch ends.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const [before] = await members();
        const until = Date.now() + 8_000;
        while (Date.now() < until);
        await eventually(members, (ids) => ids.length === 1 && ids[0] !== before, { timeoutMs: 60_000 });
      },
    });
    try {
      await consumer.start();
      // Its offset not committed, the batch is handled again from the group's offset.
      await eventually(async () => handled.length, (n) => n >= 2, { timeoutMs: 90_000 });
      await eventually(async () => (await admin.fetchOffsets({ groupId: droppedGroup, topics: [droppedTopic] }))[0]?.partitions[0]?.offset, (offset) => offset === '3');
    } finally {
      await consumer.stop();
      await admin.disconnect();
    }
    expect(fatal).toEqual([]);
    expect(handled).toEqual([
      ['m0', 'm1', 'm2'],
      ['m0', 'm1', 'm2'],
    ]);
  }, 180_000);

  it('keeps its partitions while a handler works longer than the session, and handles the batch once', async () => {
    const slowTopic = `${topic}.slow`;
    await ensureTopics(kafka, [slowTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: slowTopic, messages: [{ key: 'k', value: 'slow' }] });
    const handled: string[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-slow`,
      topics: [slowTopic],
      logger,
      // The broker's shortest session; the handler takes half as long again.
      sessionTimeoutMs: 6_000,
      onFatal: (error) => handled.push(`fatal: ${error.message}`),
      handler: async (records) => {
        handled.push(...records.map((r) => r.value!.toString()));
        if (handled.length === 1) await new Promise((resolve) => setTimeout(resolve, 9_000));
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await consumer.start();
      const committed = async () => (await admin.fetchOffsets({ groupId: `${groupId}-slow`, topics: [slowTopic] }))[0]?.partitions[0]?.offset;
      await eventually(committed, (offset) => offset === '1', { timeoutMs: 30_000 });
    } finally {
      await consumer.stop();
      await admin.disconnect();
    }
    expect(handled).toEqual(['slow']);
  }, 60_000);

  it('rejoins the group after a rebalance dropped it while its batch ran, instead of giving up; that batch is told before its commit that it lost its partition', async () => {
    const sharedTopic = `${topic}.shared`;
    const sharedGroup = `${groupId}-shared`;
    await ensureTopics(kafka, [sharedTopic], { partitions: 2, replicationFactor: 1 });
    await producer.send({ topic: sharedTopic, messages: [{ value: 'before', partition: 0 }, { value: 'before', partition: 1 }] });
    const fatal: string[] = [];
    const handled = { a: [] as string[], b: [] as string[] };
    // What holdsPartition() said at the end of each batch, as a last-write-wins handler asks before it commits.
    const held = { a: [] as string[], b: [] as string[] };
    let releaseA: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => (releaseA = resolve));
    const member = (name: 'a' | 'b', block: boolean) =>
      new BatchConsumer(kafka, {
        groupId: sharedGroup,
        topics: [sharedTopic],
        logger,
        sessionTimeoutMs: 6_000,
        rebalanceTimeoutMs: 6_000,
        // The batch keeps the fetch waiting all along (as when more batches than the consumer's
        // concurrency are slow), so the rebalance has to wait for it.
        detachAfterMs: 120_000,
        onFatal: (error) => fatal.push(`${name}: ${error.message}`),
        handler: async (records, _progress, holdsPartition) => {
          const values = records.map((r) => r.value!.toString());
          handled[name].push(...values);
          if (block && handled[name].length <= 2) await blocked;
          try {
            await holdsPartition();
            held[name].push(`${values.join()}: held`);
          } catch (error) {
            // As a handler does: the transaction rolls back and the error leaves the batch.
            held[name].push(`${values.join()}: lost (${(error as { type?: string }).type})`);
            throw error;
          }
        },
      });
    const a = member('a', true);
    const b = member('b', false);
    try {
      await a.start();
      await eventually(async () => handled.a.length, (n) => n > 0);
      // B joins while A's first batch runs; the rebalance waits 6 s for A, then drops it, and B gets
      // both partitions with A's records not committed.
      await b.start();
      await eventually(async () => handled.b.filter((value) => value === 'before').length, (n) => n === 2, { timeoutMs: 45_000 });
      releaseA();
      // A's batches fail their check (A is no longer a member): A must rejoin, and then take a partition again.
      const rejoined = async () => {
        await producer.send({ topic: sharedTopic, messages: [{ value: 'after', partition: 0 }, { value: 'after', partition: 1 }] });
        return held.a.includes('after: held');
      };
      await eventually(rejoined, (inA) => inA, { timeoutMs: 45_000, intervalMs: 1_000 });
    } finally {
      releaseA();
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(fatal).toEqual([]);
    // A's first batches ended after B had handled their records: the coordinator no longer knew A.
    expect(held.a.filter((line) => line.startsWith('before'))).toEqual(['before: lost (UNKNOWN_MEMBER_ID)', 'before: lost (UNKNOWN_MEMBER_ID)']);
    // B held both partitions then. (A batch that ends while A rejoins is told it lost its partition
    // too: the group is rebalancing, and the batch is handled again.)
    expect(held.b.filter((line) => line.startsWith('before'))).toEqual(['before: held', 'before: held']);
  }, 90_000);

  it('gives up, for its supervisor to restart the process, when its handler has failed for too long', async () => {
    const stuckTopic = `${topic}.stuck`;
    await ensureTopics(kafka, [stuckTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: stuckTopic, messages: [{ value: 'never' }] });
    const fatal: string[] = [];
    let tries = 0;
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-stuck`,
      topics: [stuckTopic],
      logger,
      retries: 1,
      giveUpAfterMs: 1_000,
      onFatal: (error) => fatal.push(error.message),
      handler: async () => {
        tries += 1;
        throw new Error('relation "deliveries" does not exist');
      },
    });
    try {
      await consumer.start();
      await eventually(async () => fatal.length, (n) => n > 0, { timeoutMs: 60_000 });
    } finally {
      await consumer.stop();
    }
    expect(fatal).toEqual(['relation "deliveries" does not exist']);
    expect(tries).toBeGreaterThan(2);
  }, 90_000);

  it('gives up, for its supervisor to restart the process, when its handler never returns', async () => {
    const hungTopic = `${topic}.hung`;
    await ensureTopics(kafka, [hungTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: hungTopic, messages: [{ value: 'waits on a vanished database' }] });
    const fatal: string[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-hung`,
      topics: [hungTopic],
      logger,
      maxBatchMs: 2_000,
      onFatal: (error) => fatal.push(error.message),
      handler: () => new Promise<void>(() => undefined),
    });
    try {
      await consumer.start();
      await eventually(async () => fatal.length, (n) => n > 0, { timeoutMs: 30_000 });
    } finally {
      void consumer.stop();
    }
    expect(fatal).toEqual([`a batch of ${hungTopic} partition 0 has made no progress in the handler for 2000 ms; giving up`]);
  }, 60_000);

  it('lets a batch run past maxBatchMs as long as its handler reports progress part by part', async () => {
    const longTopic = `${topic}.long`;
    await ensureTopics(kafka, [longTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: longTopic, messages: [{ value: 'a batch of broadcasts' }] });
    const fatal: string[] = [];
    const parts: number[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-long`,
      topics: [longTopic],
      logger,
      maxBatchMs: 1_500,
      onFatal: (error) => fatal.push(error.message),
      handler: async (_records, progress) => {
        // four parts of 800 ms: 3.2 s in all, never 1.5 s without progress
        for (let part = 1; part <= 4; part++) {
          await new Promise((resolve) => setTimeout(resolve, 800));
          parts.push(part);
          progress();
        }
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await consumer.start();
      const committed = async () => (await admin.fetchOffsets({ groupId: `${groupId}-long`, topics: [longTopic] }))[0]?.partitions[0]?.offset;
      await eventually(committed, (offset) => offset === '1', { timeoutMs: 30_000 });
    } finally {
      await admin.disconnect();
      await consumer.stop();
    }
    expect(parts).toEqual([1, 2, 3, 4]);
    expect(fatal).toEqual([]);
  }, 60_000);

  it('gives up when one partition keeps failing, though another succeeds all the while', async () => {
    const halfTopic = `${topic}.half`;
    await ensureTopics(kafka, [halfTopic], { partitions: 2, replicationFactor: 1 });
    await producer.send({ topic: halfTopic, messages: [{ partition: 0, value: 'never' }] });
    const fatal: string[] = [];
    const succeeded: string[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-half`,
      topics: [halfTopic],
      logger,
      retries: 1,
      giveUpAfterMs: 1_000,
      onFatal: (error) => fatal.push(error.message),
      handler: async (records) => {
        if (records[0]!.partition === 0) throw new Error('relation "deliveries" does not exist');
        succeeded.push(...records.map((r) => r.value!.toString()));
      },
    });
    // Partition 1 gets a record every 200 ms, and its batches succeed, until the consumer gives up.
    let sent = 0;
    const feeding = setInterval(() => void producer.send({ topic: halfTopic, messages: [{ partition: 1, value: `ok-${sent++}` }] }).catch(() => undefined), 200);
    try {
      await consumer.start();
      await eventually(async () => fatal.length, (n) => n > 0, { timeoutMs: 60_000 });
    } finally {
      clearInterval(feeding);
      await consumer.stop();
    }
    expect(fatal).toEqual(['relation "deliveries" does not exist']);
    expect(succeeded.length).toBeGreaterThan(0);
  }, 90_000);

  it('goes on fetching and handling the other partitions while one partition’s batch is slow', async () => {
    const busyTopic = `${topic}.busy`;
    await ensureTopics(kafka, [busyTopic], { partitions: 2, replicationFactor: 1 });
    await producer.send({ topic: busyTopic, messages: [{ value: 'newsletter', partition: 0 }] });
    const handled: string[] = [];
    const fatal: string[] = [];
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    // What holdsPartition() says at each batch's end: a batch that went on alone cannot be answered for.
    const checks: string[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-busy`,
      topics: [busyTopic],
      logger,
      onFatal: (error) => fatal.push(error.message),
      handler: async (records, _progress, holdsPartition) => {
        for (const record of records) handled.push(`${record.partition}:${record.value!.toString()}`);
        if (records.some((r) => r.value!.toString() === 'newsletter')) await slow;
        checks.push(
          await holdsPartition().then(
            () => `${records[0]!.partition}: held`,
            (error: Error) => `${records[0]!.partition}: ${error.message}`,
          ),
        );
      },
    });
    try {
      await consumer.start();
      await eventually(async () => handled, (h) => h.includes('0:newsletter'));
      await producer.send({ topic: busyTopic, messages: [{ value: 'one-time code', partition: 1 }] });
      // Handled while partition 0's batch is still in its handler.
      await eventually(async () => handled, (h) => h.includes('1:one-time code'));
      // Then partition 0's batch ends, is committed, and its partition goes on.
      release();
      await producer.send({ topic: busyTopic, messages: [{ value: 'after', partition: 0 }] });
      await eventually(async () => handled, (h) => h.includes('0:after'));
    } finally {
      release();
      await consumer.stop();
    }
    expect(handled.filter((h) => h === '0:newsletter')).toEqual(['0:newsletter']);
    expect(fatal).toEqual([]);
    expect(checks).toEqual(['1: held', `0: holdsPartition() cannot answer for a batch that went on alone (${busyTopic}:0)`, '0: held']);
    expect(await committedOffsets(`${groupId}-busy`, busyTopic)).toEqual([
      [0, '2'],
      [1, '1'],
    ]);
  }, 60_000);

  it('hands a batch that failed after going on alone again, and commits it once it succeeds', async () => {
    const lateTopic = `${topic}.late-failure`;
    await ensureTopics(kafka, [lateTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: lateTopic, messages: [{ value: 'r1' }, { value: 'r2' }] });
    const handled: string[][] = [];
    const fatal: string[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-late-failure`,
      topics: [lateTopic],
      logger,
      detachAfterMs: 100,
      onFatal: (error) => fatal.push(error.message),
      handler: async (records) => {
        handled.push(records.map((r) => r.value!.toString()));
        if (handled.length === 1) {
          // Fails after it went on alone (a database that answered with an error after a while).
          await new Promise((resolve) => setTimeout(resolve, 400));
          throw new Error('database unavailable');
        }
      },
    });
    try {
      await consumer.start();
      await eventually(async () => handled.length, (n) => n >= 2);
      await producer.send({ topic: lateTopic, messages: [{ value: 'r3' }] });
      await eventually(async () => handled.flat(), (values) => values.includes('r3'));
    } finally {
      await consumer.stop();
    }
    expect(handled.slice(0, 2)).toEqual([
      ['r1', 'r2'],
      ['r1', 'r2'],
    ]);
    expect(handled.flat().filter((v) => v === 'r3')).toEqual(['r3']);
    expect(fatal).toEqual([]);
  }, 60_000);

  it('finishes and commits a batch that a stop found in its first second, without letting it go on alone', async () => {
    const stopTopic = `${topic}.stopping`;
    await ensureTopics(kafka, [stopTopic], { partitions: 1, replicationFactor: 1 });
    await producer.send({ topic: stopTopic, messages: [{ value: 'in hand' }] });
    let started!: () => void;
    const inHandler = new Promise<void>((resolve) => (started = resolve));
    let finished = false;
    const consumer = new BatchConsumer(kafka, {
      groupId: `${groupId}-stopping`,
      topics: [stopTopic],
      logger,
      detachAfterMs: 500,
      onFatal: () => undefined,
      handler: async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        finished = true;
      },
    });
    await consumer.start();
    await inHandler;
    await consumer.stop();
    expect(finished).toBe(true);
    expect(await committedOffsets(`${groupId}-stopping`, stopTopic)).toEqual([[0, '1']]);
  }, 60_000);
});
