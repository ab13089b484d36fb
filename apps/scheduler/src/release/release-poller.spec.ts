import type { Producer, ProducerBatch } from 'kafkajs';
import { createLogger, Metrics } from '@notify/observability';
import type { FallbackStore } from '@notify/persistence';
import { ReleasePoller } from './release-poller';

const job = { deliveryId: 'd', requestId: 'r', userId: 'u', channel: 'push', message: {} };
const poller = (store: object, releaseBatchSize: number, produced: ProducerBatch[] = []) =>
  new ReleasePoller(
    store as unknown as FallbackStore,
    { sendBatch: async (batch: ProducerBatch) => (produced.push(batch), []) } as unknown as Producer,
    { pollIntervalMs: 60_000, releaseBatchSize },
    () => new Date('2030-07-01T12:00:00Z'),
    createLogger('release-poller-spec', 'silent'),
    new Metrics('release-poller-spec'),
  );

describe('ReleasePoller', () => {
  it('goes on while batches come back full, counting the tiers it cancelled, not only those it released', async () => {
    // After a broadcast most due tiers are cancelled (their lower tier delivered): each batch releases few.
    const batches = [
      { jobs: [job], expired: [], taken: 3 },
      { jobs: [], expired: [], taken: 3 },
      { jobs: [job, job], expired: [], taken: 2 },
    ];
    const calls: number[] = [];
    const store = { releaseDue: async (_now: Date, limit: number) => (calls.push(limit), batches.shift()!) };
    const produced: ProducerBatch[] = [];

    const released = await poller(store, 3, produced).releaseDue();

    expect(calls).toEqual([3, 3, 3]);
    expect(released).toBe(3);
    expect(produced.flatMap((batch) => batch.topicMessages!.flatMap((t) => t.messages))).toHaveLength(3);
  });
});

/** A backlog of held deliveries larger than anything a shutdown should wait for. */
describe('ReleasePoller shutdown', () => {
  it('stops releasing after the batch in hand when the app shuts down, though more is due', async () => {
    let batches = 0;
    const job = { deliveryId: 'd', requestId: 'r', userId: 'u', channel: 'push', message: {} };
    // Every batch is full: the backlog never ends.
    const store = {
      releaseDue: async (_now: Date, limit: number) => {
        batches += 1;
        await new Promise((resolve) => setImmediate(resolve));
        return { jobs: Array.from({ length: limit }, () => job), expired: [], taken: limit };
      },
    } as unknown as FallbackStore;
    const producer = { sendBatch: async (_: ProducerBatch) => [] } as unknown as Producer;
    const poller = new ReleasePoller(
      store,
      producer,
      { pollIntervalMs: 10, releaseBatchSize: 2 },
      () => new Date('2030-07-01T12:00:00Z'),
      createLogger('release-poller-spec', 'silent'),
      new Metrics('release-poller-spec'),
    );
    poller.onApplicationBootstrap();
    while (batches < 3) await new Promise((resolve) => setTimeout(resolve, 5));

    await poller.onApplicationShutdown();
    const atStop = batches;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches).toBe(atStop);
  });
});
